"""A catching-up OMS sends an order's whole history at once: the confirmation (the
customer's receipt) still goes out; of the shipping stages only the latest does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notifications import bulk, record_order_event, record_order_events
from tests.support.events import event

STAGES = ("order_confirmed", "packed", "shipped", "out_for_delivery", "delivered")
EXPECTED = {"order_confirmed": "pending", "packed": "suppressed", "shipped": "suppressed",
            "out_for_delivery": "suppressed", "delivered": "pending"}


def history() -> list[dict]:
    """One order's five stages, ten minutes apart, the last one a minute ago."""
    start = datetime.now(UTC) - timedelta(minutes=41)
    first = event(STAGES[0])
    docs = []
    for i, kind in enumerate(STAGES):
        doc = event(kind, order_id=first["order_id"],
                    occurred_at=(start + timedelta(minutes=10 * i)).isoformat())
        doc["order"]["number"] = first["order_id"]
        docs.append(doc)
    return docs


def first_channel_states(notifications) -> dict[str, str]:
    by_event = {}
    for n in notifications:
        by_event.setdefault(n.event_id, n)   # rank 0 first
    return {n.event_id: n.state for n in by_event.values()}


def named(docs, states: dict[str, str]) -> dict[str, str]:
    return {doc["type"]: states[doc["event_id"]] for doc in docs}


def test_one_batch_through_bulk_intake_keeps_the_confirmation(db, broker):
    docs = history()
    intake = record_order_events(docs)
    assert named(docs, first_channel_states(intake.notifications)) == EXPECTED
    reasons = {n.reason for n in intake.notifications if n.state == "suppressed"}
    assert reasons == {"superseded"}


def test_one_batch_through_the_cli_bulk_path_keeps_the_confirmation(db, broker):
    docs = history()
    result = bulk.record_bulk([(f"line {i + 1}", d) for i, d in enumerate(docs)], jobs=1)
    # two events sent (email pending + sms standby each), three superseded (two rows each)
    assert result.by_state == {"pending": 2, "standby": 2, "suppressed": 6}
    assert result.suppressed == {"superseded": 6}


def test_events_one_by_one_newest_first_keep_the_confirmation(db, broker):
    docs = history()
    states = {}
    for doc in reversed(docs):    # the OMS replays its backlog newest first
        states.update(first_channel_states(record_order_event(doc)))
    assert named(docs, states) == EXPECTED


def test_a_confirmation_arriving_after_delivery_is_still_sent(db, broker):
    docs = history()
    record_order_event(docs[-1])
    (confirmed, _) = record_order_event(docs[0])
    assert (confirmed.state, confirmed.reason) == ("pending", None)
