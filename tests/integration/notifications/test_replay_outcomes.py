"""`relay dlq replay` reports notification outcomes too: sent, dead again, pending."""

from __future__ import annotations

from notifications import record_order_event
from relay import deadletters
from relay.db import connection
from relay.deadletters import outcomes
from tests.support.events import event
from tests.support.notifications import drain


def _open_letter() -> tuple[int, str, str]:
    with connection() as conn:
        row = conn.execute("SELECT id, kind, entity_id FROM dead_letters"
                           " WHERE state = 'open'").fetchone()
        conn.commit()
    return row["id"], row["kind"], str(row["entity_id"])


def _replay(letter) -> None:
    (result,) = deadletters.replay([letter[0]], by="test")
    assert result.outcome == "replayed", result.message


def test_a_replayed_notification_is_pending_then_dead_again_then_sent(wired):
    # given a notification dead-lettered because its only mailbox bounces
    doc = event("packed", customer__channels=["email"], customer__email="bounce@example.com")
    record_order_event(doc)
    assert drain() == ["dead_letter"]
    first = _open_letter()
    # when it is replayed with the mailbox still bouncing
    _replay(first)
    (now,) = outcomes.current([first])
    assert (now.outcome, now.state) == ("pending", "pending")
    drain()
    # then it is reported dead again, with the new dead letter and its reason
    (now,) = outcomes.current([first])
    second = _open_letter()
    assert (now.outcome, now.state, now.dead_letter_id) == ("dead_again", "failed", second[0])
    assert now.reason == "all_channels_failed"
    # and once the mailbox is fixed, a replay is reported sent
    wired["smtp"].handler.recipient_rules.clear()
    _replay(second)
    drain()
    (now,) = outcomes.wait([second], timeout=5)
    assert (now.outcome, now.state, now.reason) == ("delivered", "sent", None)
    assert outcomes.counts([now]) == {"delivered": 1, "dead_again": 0, "pending": 0,
                                      "finished": 0}
