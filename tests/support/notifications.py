"""Notification tests' equipment: the SMTP/SMS/push stand-ins in-process, the service's
channels pointed at them, `drain()` (what a worker would do, in-process, for every due
row) and the rows an event produced."""

from __future__ import annotations

import time
import uuid

import pytest

from notifications import service
from notifications.channels import PushChannel, SmsChannel, SmtpChannel
from notifications.channels.inapp import InAppChannel
from standins import push, sms, smtp
from tests.support.events import event  # noqa: F401 - the documents these tests record
from tests.support.rows import fetch

EMAIL_FROM = "Relay Shop <orders@shop.example>"
PROMO_FROM = "Relay Shop Offers <offers@shop.example>"
FAST = (1.0, 1.0)  # (connect, read) seconds: keeps timeout tests quick


@pytest.fixture
def standins():
    with smtp.serve() as sink, sms.serve() as sms_api, push.serve() as push_api:
        yield {"smtp": sink, "sms": sms_api, "push": push_api}


@pytest.fixture
def wired(db, broker, standins):
    """The service's channels point at the stand-ins; restored afterwards."""
    email = SmtpChannel("127.0.0.1", standins["smtp"].port, email_from=EMAIL_FROM,
                        promo_email_from=PROMO_FROM, timeout=2.0)
    service.use_channels({
        "email": email,
        "sms": SmsChannel(standins["sms"].url, sms.DEFAULT_SID, sms.DEFAULT_TOKEN,
                          "+15005550006", timeout=(1.0, 2.0)),
        "push": PushChannel(standins["push"].url, push.DEFAULT_PROJECT, push.DEFAULT_TOKEN,
                            timeout=(1.0, 2.0)),
        "inapp": InAppChannel(),
    })
    yield standins
    email.close()
    service.use_channels(None)


def due_ids(within_s: float = 0.0) -> list[uuid.UUID]:
    found = fetch("""SELECT entity_id FROM outbox WHERE kind = 'notification'
                     AND done_at IS NULL
                     AND next_attempt_at <= clock_timestamp() + make_interval(secs => %s)
                     ORDER BY created_at""", (within_s,))
    return [r["entity_id"] for r in found]


def drain(max_rounds: int = 20) -> list[str]:
    """Deliver every due notification (fallbacks and retries due within a second
    included) like a worker would."""
    outcomes: list[str] = []
    for _ in range(max_rounds):
        ids = due_ids()
        if not ids:
            if not due_ids(within_s=1.0):
                break
            time.sleep(0.02)
            continue
        outcomes += [service.deliver(i) for i in ids]
    return outcomes


def rows(event_id: str) -> dict[str, dict]:
    """An event's notification rows by channel."""
    found = fetch("SELECT * FROM notifications WHERE event_id = %s ORDER BY rank", (event_id,))
    return {r["channel"]: r for r in found}
