"""Order notifications end to end: real worker processes, real stand-ins (SMTP sink, SMS
and push APIs) on loopback, PostgreSQL and Redis."""

from __future__ import annotations

import pytest

from notifications import record_order_event
from relay import outbox
from relay.db import connection
from standins import push, sms, smtp
from tests.integration.notifications.conftest import event, rows
from tests.support import wait_until

pytestmark = pytest.mark.e2e
ALL_QUEUES = "notify.transactional,notify.expedite,notify.promotions"


@pytest.fixture
def standins():
    with smtp.serve() as sink, sms.serve() as sms_api, push.serve() as push_api:
        yield {"smtp": sink, "sms": sms_api, "push": push_api}


@pytest.fixture
def worker_env(standins):
    return {"SMTP_URL": f"smtp://127.0.0.1:{standins['smtp'].port}",
            "SMS_API_URL": standins["sms"].url, "PUSH_API_URL": standins["push"].url,
            "PROMO_QUIET_HOURS": "off"}


def state(event_id: str, channel: str) -> str:
    return rows(event_id)[channel]["state"]


def test_each_event_type_reaches_the_right_channel_with_the_right_content(
        relay_env, start_worker, standins, worker_env):
    start_worker(ALL_QUEUES, concurrency=4, env=worker_env)
    confirmed = event("order_confirmed", customer__channels=["email"])
    shipped = event("shipped", customer__channels=["sms", "email"])
    delivered = event("delivered", customer__channels=["push"])
    promo = event("promotion", customer__email="promo@example.com")
    inapp = event("packed", customer__channels=["inapp"])
    for doc in (confirmed, shipped, delivered, promo, inapp):
        record_order_event(doc)
    wait_until(lambda: len(standins["smtp"].messages()) == 2, timeout=20, message="2 emails")
    wait_until(lambda: standins["sms"].state.messages() and standins["push"].state.messages()
               and state(inapp["event_id"], "inapp") == "sent", timeout=20, message="the rest")
    order_mail = standins["smtp"].messages("ana@example.com")[0]
    assert confirmed["order_id"] in order_mail.part("plain")
    (text,) = standins["sms"].state.messages()
    assert shipped["order_id"] in text.body and shipped["order"]["tracking_url"] in text.body
    (note,) = standins["push"].state.messages()
    assert note.data["order_id"] == delivered["order_id"]
    promo_mail = standins["smtp"].messages("promo@example.com")[0]
    assert promo_mail.message["List-Unsubscribe"] and "offers@" in promo_mail.mail_from
    assert state(shipped["event_id"], "email") == "skipped"
    # a repeated event changes nothing: still one message per channel
    for doc in (confirmed, shipped):
        record_order_event(doc)
    assert len(standins["smtp"].messages()) == 2 and len(standins["sms"].state.messages()) == 1


def test_email_down_permanently_the_sms_goes_out_in_the_same_attempt_window(
        relay_env, start_worker, standins, worker_env):
    start_worker("notify.transactional", concurrency=2, env=worker_env)
    doc = event("shipped", customer__email="bounce@example.com")
    record_order_event(doc)
    wait_until(lambda: state(doc["event_id"], "sms") == "sent", timeout=10,
               message="fallback SMS sent")
    assert len(standins["sms"].state.messages()) == 1
    found = rows(doc["event_id"])
    assert (found["email"]["state"], found["email"]["reason"]) == ("failed", "smtp_550")
    assert (found["sms"]["sent_at"] - found["email"]["created_at"]).total_seconds() < 5
    gap = (found["sms"]["activated_at"] - found["email"]["updated_at"]).total_seconds()
    assert abs(gap) < 1.0, "the fallback is activated in the same transaction"
    assert standins["smtp"].messages() == []


def test_a_message_delivered_twice_to_two_workers_sends_once(
        relay_env, start_worker, standins, worker_env):
    standins["smtp"].faults.update(latency_ms=300)
    start_worker("notify.transactional", concurrency=2, env=worker_env)
    start_worker("notify.transactional", concurrency=2, env=worker_env)
    (first, _) = record_order_event(event("shipped"))
    # the broker hands the same message out again (a sweep republish, a redelivery)
    for _ in range(3):
        outbox.publish_now([outbox.Publication(first.id, "notifications.send",
                                               "notify.transactional")])
    wait_until(lambda: standins["smtp"].messages(), timeout=10, message="the email")
    wait_until(lambda: _outbox_done(first.id), timeout=10, message="outbox row done")
    assert len(standins["smtp"].wait_for(2, timeout=1.0)) == 1


def _outbox_done(notification_id) -> bool:
    with connection() as conn:
        row = outbox.get(conn, notification_id)
        conn.commit()
    return row["done_at"] is not None
