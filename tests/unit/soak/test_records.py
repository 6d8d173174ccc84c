"""scripts/soak reads the stand-ins' records: attribution of each message to its event,
and relay's own breach-alert payloads (built here by relay.alerts, so a format change
there breaks this test rather than silently blinding the soak)."""

from __future__ import annotations

import random
import sys

from relay import alerts
from tests.support import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

from soaklib import records
from soaklib.checks import Alert, Delivery
from soaklib.traffic import Traffic


def test_an_sms_is_attributed_by_the_order_number_in_its_body():
    assert records.sms_event("ab12cd", "Globex: your order SO-ab12cd-7-sh has shipped.") \
        == "ev-ab12cd-7-sh"
    assert records.sms_event("ab12cd", "Globex: the update on your order SO-ab12cd-7-sh is "
                                       "delayed.") == "delay:ev-ab12cd-7-sh"
    assert records.sms_event("ab12cd", "your order SO-other-7-sh has shipped") is None


def test_the_event_documents_carry_the_tag_the_sms_attribution_reads():
    traffic = Traffic("ab12cd", 10, 1, 1, 60, random.Random(1))
    doc = traffic.event_doc(7, "shipped", "sh")
    assert doc["event_id"] == "ev-ab12cd-7-sh"
    assert records.sms_event("ab12cd", f"order {doc['order']['number']} shipped") == doc["event_id"]
    assert traffic.event_doc(50, "packed", "pk")["customer"]["phone"] == "+15005550001"


def test_messages_are_attributed_per_channel_and_strays_named():
    events = {"n-1": "ev-1", "n-2": "ev-2"}
    out = records.attribute(
        "ab12cd",
        emails=[{"headers": {"X-Relay-Notification-Id": "n-1"}, "received_at": 5.0},
                {"headers": {}, "received_at": 6.0}],
        sms=[{"sid": "SM1", "body": "order SO-ab12cd-3-dl delivered", "received_at": 7.0}],
        pushes=[{"data": {"notification_id": "n-2"}, "received_at": 8.0}],
        notification_events=events)
    assert out.deliveries == [Delivery("ev-1", "email", 5.0),
                              Delivery("ev-ab12cd-3-dl", "sms", 7.0),
                              Delivery("ev-2", "push", 8.0)]
    assert out.unattributed == ["email (no id)"]


def test_relays_breach_alerts_and_their_summaries_are_read():
    breach = alerts.payload("sla.breach", "Order notification SLA breached", "shipped ...",
                            "error", {"event_type": "shipped", "notification_id": "n-1"})
    summary = alerts.summary_payload(alerts.Summary(
        "sla.breach", "Order notification SLA breached", "SLA breaches", 12,
        {"shipped": 12}, 1.0))
    other = alerts.payload("dead_letters.notification", "Dead letter", "x", "error",
                           {"notification_id": "n-2"})
    found = records.breach_alerts([breach, summary, other], {"n-1": "ev-1"})
    assert found == [Alert("ev-1"), Alert(None, 12)]
