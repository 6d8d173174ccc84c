"""Real stand-ins (SMTP sink, SMS, push) on loopback, and the service's channel registry
pointed at them; `drain()` runs what a worker would, in-process, for every due row."""

from __future__ import annotations

import copy
import time
import uuid
from datetime import UTC, datetime

import pytest

from notifications import service
from notifications.channels import PushChannel, SmsChannel, SmtpChannel
from notifications.channels.inapp import InAppChannel
from relay.db import connection
from standins import push, sms, smtp

EMAIL_FROM = "Relay Shop <orders@shop.example>"
PROMO_FROM = "Relay Shop Offers <offers@shop.example>"


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


def event(kind: str = "shipped", **changes) -> dict:
    """A fresh, valid event of `kind`; `customer__phone=None` style keys change nested
    fields."""
    order_id = f"SO-{uuid.uuid4().hex[:8]}"
    doc = {
        "event_id": f"oms-{uuid.uuid4().hex[:12]}", "type": kind, "order_id": order_id,
        "occurred_at": datetime.now(UTC).isoformat(), "brand": "acme", "country": "ES",
        "locale": "es-ES",
        "customer": {"customer_id": "C-1001", "email": "ana@example.com",
                     "phone": "+34600000000", "push_token": "tok-ana",
                     "channels": ["email", "sms"], "marketing_opt_in": False},
        "order": {"number": order_id, "items": [{"sku": "X1", "name": "Lamp", "qty": 1}],
                  "carrier": "UPS", "tracking_number": "1Z999",
                  "tracking_url": f"https://track.example/{order_id}", "eta": "2026-11-25"},
    }
    if kind == "promotion":
        del doc["order"], doc["order_id"]
        doc["customer"]["marketing_opt_in"] = True
        doc["campaign"] = {"id": "bf-2026", "name": "Black Friday", "subject": "40% off lamps",
                           "url": "https://shop.example/bf"}
    doc = copy.deepcopy(doc)
    for key, value in changes.items():
        *parents, leaf = key.split("__")
        target = doc
        for part in parents:
            target = target[part]
        target[leaf] = value
    return doc


def due_ids(within_s: float = 0.0) -> list[uuid.UUID]:
    with connection() as conn:
        rows = conn.execute(
            """SELECT entity_id FROM outbox WHERE kind = 'notification' AND done_at IS NULL
               AND next_attempt_at <= clock_timestamp() + make_interval(secs => %s)
               ORDER BY created_at""", (within_s,)).fetchall()
        conn.commit()
    return [r["entity_id"] for r in rows]


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
    with connection() as conn:
        found = conn.execute("SELECT * FROM notifications WHERE event_id = %s ORDER BY rank",
                             (event_id,)).fetchall()
        conn.commit()
    return {r["channel"]: r for r in found}
