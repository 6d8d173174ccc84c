"""What on-call sees of notifications and does with them: the `notifications` section of
`relay status`, the dead-letter replayer for kind `notification`, and the history behind
`relay orders show` / `GET /v1/orders/{id}`. Imported by relay.bootstrap
(FEATURE_MODULES), which registers the first two. The SQL: notifications/store/."""

from __future__ import annotations

import uuid

from notifications import policy
from notifications.channels.inapp import inbox_for_order
from notifications.producer import KIND
from notifications.sla.math import annotate_order
from notifications.store import oncall as store
from notifications.store.sending import reset_for_replay
from relay import bootstrap, deadletters, outbox
from relay.db import Tx, connection
from relay.errors import NotFound
from relay.status import register_section


def status_section() -> dict:
    """Counts by state, unfinished work by the queue it is routed to, oldest open age."""
    states, queues = store.counts()
    return {
        "by_state": {r["state"]: r["n"] for r in states},
        "pending_by_queue": {r["queue"]: {
            "pending": r["n"], "past_deadline": r["past_deadline"],
            "oldest_pending_age_s": round(r["oldest_s"] or 0.0, 1)} for r in queues},
    }


def replay(tx: Tx, notification_id: uuid.UUID) -> None:
    """Dead-letter replayer: the notification is pending again with a fresh attempt budget
    and goes back through the outbox (its last channel first)."""
    if not reset_for_replay(tx, notification_id):
        raise NotFound(f"notification {notification_id} is not failed (or does not exist)")
    if not outbox.reopen(tx, notification_id):
        raise NotFound(f"notification {notification_id} has no outbox row to reopen")


def order_history(order_id: str) -> dict:
    """Everything on-call needs about one order's notifications, oldest first."""
    with connection() as conn:
        events = store.order_events(conn, order_id)
        if not events:
            conn.commit()
            raise NotFound(f"no events for order {order_id}")
        notes = store.event_notifications(conn, [e["event_id"] for e in events])
        inbox = inbox_for_order(conn, order_id)
        conn.commit()
    return {"order_id": order_id, "events": events, "notifications": notes, "inbox": inbox}


def order_timeline(order_id: str) -> dict:
    """What `relay orders show --json` prints and `GET /v1/orders/{id}` returns: the
    history with each event's and notification's on-time status."""
    return annotate_order(order_history(order_id))


register_section("notifications", status_section)
deadletters.register_replayer(KIND, replay)
# `skipped`: the customer got it on another channel (sent_via_<channel>)
deadletters.register_states(KIND, "notifications", delivered=("sent", "skipped"))


@bootstrap.config_check
def _check_policy() -> None:
    policy.retry_policy()
    policy.claim_seconds()
    policy.promo_yield_seconds()
    policy.unsubscribe_url()
    policy.quiet_hours()
