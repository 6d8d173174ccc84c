"""Every provider down for a while, then back: real worker processes, the real SMTP sink,
SMS and push stand-ins. Each notification goes out exactly once, nothing is
dead-lettered, nobody steps in — counted at the stand-ins' own records."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from notifications import record_order_event
from relay.db import connection
from standins import push, sms, smtp
from tests.integration.notifications.conftest import event
from tests.support import wait_until

pytestmark = pytest.mark.e2e
EVENTS = 24
OUTAGE_S = 6.0


@pytest.fixture
def standins():
    with smtp.serve() as sink, sms.serve() as sms_api, push.serve() as push_api:
        yield {"smtp": sink, "sms": sms_api, "push": push_api}


def customer(i: int) -> dict:
    return {"customer__customer_id": f"C-{i}", "customer__email": f"c{i}@example.com",
            "customer__phone": f"+3460000{i:04d}", "customer__push_token": f"tok-{i}",
            "customer__channels": ["email", "sms", "push"]}


def received(standins) -> Counter:
    """Messages per customer, from what each stand-in itself accepted."""
    seen: Counter = Counter()
    for mail in standins["smtp"].messages():
        seen[mail.rcpt_tos[0].split("@")[0].removeprefix("c")] += 1
    for text in standins["sms"].state.messages():
        seen[str(int(text.to[-4:]))] += 1
    for note in standins["push"].state.messages():
        seen[note.token.removeprefix("tok-")] += 1
    return seen


def db_counts() -> dict:
    with connection() as conn:
        row = conn.execute(
            """SELECT (SELECT count(*) FROM dead_letters) AS dead,
                      (SELECT count(*) FROM notifications WHERE state = 'sent') AS sent,
                      (SELECT coalesce(min(r), 0) FROM (SELECT max(rounds) AS r
                                                        FROM notifications GROUP BY event_id)
                                                       AS per_event) AS rounds,
                      (SELECT count(*) FROM attempts WHERE outcome = 'transient') AS transient,
                      (SELECT count(*) FROM outbox WHERE done_at IS NULL) AS open_work
            """).fetchone()
        conn.commit()
    return row


def test_every_provider_down_then_back_each_notification_is_sent_once(
        relay_env, start_worker, standins):
    # given: SMTP answers 451, SMS 503, push drops every connection
    standins["smtp"].faults.update(error_rate=1.0, error_status=451)
    standins["sms"].faults.update(error_rate=1.0, error_status=503)
    standins["push"].faults.update(outage_seconds=3600)
    env = {"SMTP_URL": f"smtp://127.0.0.1:{standins['smtp'].port}",
           "SMS_API_URL": standins["sms"].url, "PUSH_API_URL": standins["push"].url,
           # shortened clocks: two tries per channel, rounds at most 2 s apart
           "NOTIFY_CHANNEL_MAX_ATTEMPTS": "2", "NOTIFY_RETRY_BASE_SECONDS": "0.3",
           "NOTIFY_RETRY_MAX_SECONDS": "2", "NOTIFY_GIVE_UP_SECONDS": "600"}
    start_worker("notify.transactional,notify.expedite", concurrency=4, env=env)
    for i in range(EVENTS):
        record_order_event(event("shipped", **customer(i)))
    outage_ends = time.monotonic() + OUTAGE_S
    # while down: every channel fails, and every notification goes round its channels
    # at least twice more (however slow the machine), none gives up
    wait_until(lambda: db_counts()["rounds"] >= 2, timeout=60, message="two more rounds each")
    assert db_counts()["dead"] == 0 and received(standins) == Counter()
    time.sleep(max(0.0, outage_ends - time.monotonic()))  # the outage lasts OUTAGE_S at least
    during = db_counts()
    assert during["dead"] == 0 and during["sent"] == 0 and during["transient"] >= 3 * EVENTS
    # when: every provider recovers
    standins["smtp"].faults.reset()
    standins["sms"].faults.reset()
    standins["push"].faults.reset()
    # then: each customer gets exactly one message, on one channel, with no manual step
    wait_until(lambda: sum(received(standins).values()) >= EVENTS, timeout=60,
               message="every notification sent")
    wait_until(lambda: db_counts()["sent"] == EVENTS, timeout=30, message="rows marked sent")
    # nothing is left that could send again: every outbox row is finished
    wait_until(lambda: db_counts()["open_work"] == 0, timeout=30, message="outbox drained")
    assert received(standins) == Counter({str(i): 1 for i in range(EVENTS)})
    after = db_counts()
    assert (after["dead"], after["sent"]) == (0, EVENTS)
