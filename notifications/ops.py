"""On-call views of notifications: the `notifications` section of `relay status`, the
dead-letter replayer for kind `notification`, and the history behind `relay orders show`.
Imported by relay.bootstrap (FEATURE_MODULES), which registers the first two."""

from __future__ import annotations

import uuid

from notifications import policy
from notifications.channels.inapp import inbox_for_order
from notifications.producer import KIND
from relay import attempts, bootstrap, deadletters, outbox
from relay.db import Tx, connection
from relay.errors import NotFound
from relay.status import register_section


def status_section() -> dict:
    """Counts by state, unfinished work by the queue it is routed to, oldest open age."""
    with connection() as conn:
        states = conn.execute(
            "SELECT state, count(*) AS n FROM notifications GROUP BY state").fetchall()
        queues = conn.execute(
            """SELECT o.queue, count(*) AS n,
                      count(*) FILTER (WHERE n.deadline < now()) AS past_deadline,
                      extract(epoch FROM now() - min(n.created_at))::float8 AS oldest_s
               FROM notifications n JOIN outbox o ON o.entity_id = n.id
               WHERE n.state IN ('pending', 'sending') AND o.done_at IS NULL
               GROUP BY o.queue ORDER BY o.queue""").fetchall()
        conn.commit()
    return {
        "by_state": {r["state"]: r["n"] for r in states},
        "pending_by_queue": {r["queue"]: {
            "pending": r["n"], "past_deadline": r["past_deadline"],
            "oldest_pending_age_s": round(r["oldest_s"] or 0.0, 1)} for r in queues},
    }


def replay(tx: Tx, notification_id: uuid.UUID) -> None:
    """Dead-letter replayer: the notification is pending again with a fresh attempt budget
    and goes back through the outbox (its last channel first)."""
    row = tx.execute(
        """UPDATE notifications SET state = 'pending', reason = 'replayed', attempts = 0,
                  activated_at = now(), claim_token = NULL, claimed_until = NULL,
                  updated_at = now()
           WHERE id = %s AND state IN ('failed', 'pending', 'sending') RETURNING id""",
        (notification_id,)).fetchone()
    if row is None:
        raise NotFound(f"notification {notification_id} is not failed (or does not exist)")
    if not outbox.reopen(tx, notification_id):
        raise NotFound(f"notification {notification_id} has no outbox row to reopen")


def order_history(order_id: str) -> dict:
    """Everything on-call needs about one order's notifications, oldest first."""
    with connection() as conn:
        events = conn.execute(
            """SELECT event_id, type, occurred_at, received_at, deadline, brand, country,
                      locale, customer_id FROM order_events
               WHERE order_id = %s ORDER BY occurred_at, received_at""",
            (order_id,)).fetchall()
        if not events:
            conn.commit()
            raise NotFound(f"no events for order {order_id}")
        notes = conn.execute(
            """SELECT n.id, n.event_id, n.event_type, n.channel, n.rank, n.state, n.reason,
                      n.queue, n.attempts, n.created_at, n.activated_at, n.sent_at,
                      n.deadline, n.provider_message_id, n.last_error,
                      o.queue AS routed_queue
               FROM notifications n LEFT JOIN outbox o ON o.entity_id = n.id
               WHERE n.event_id = ANY(%s) ORDER BY n.occurred_at, n.event_id, n.rank""",
            ([e["event_id"] for e in events],)).fetchall()
        for note in notes:
            note["attempts_log"] = attempts.history(conn, note["id"])
        inbox = inbox_for_order(conn, order_id)
        conn.commit()
    return {"order_id": order_id, "events": events, "notifications": notes, "inbox": inbox}


def order_timeline(order_id: str) -> dict:
    """What `relay orders show --json` prints and `GET /v1/orders/{id}` returns: the
    history with each event's and notification's on-time status."""
    from notifications import sla  # sla imports this module's neighbours

    return sla.annotate_order(order_history(order_id))


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
