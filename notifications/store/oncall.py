"""SQL of the on-call views (notifications/oncall.py): counts for `relay status` and the
history of one order. Read-only; each opens its own connection."""

from __future__ import annotations

from relay import attempts
from relay.db import connection


def counts() -> tuple[list[dict], list[dict]]:
    """([{state, n}], [{queue, n, past_deadline, oldest_s}]): rows by state, and unfinished
    work by the queue its outbox row routes it to."""
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
    return states, queues


def order_events(conn, order_id: str) -> list[dict]:
    return conn.execute(
        """SELECT event_id, type, occurred_at, received_at, deadline, brand, country,
                  locale, customer_id FROM order_events
           WHERE order_id = %s ORDER BY occurred_at, received_at""", (order_id,)).fetchall()


def event_notifications(conn, event_ids: list[str]) -> list[dict]:
    """The events' rows in plan order, each with its outbox route and `attempts_log`."""
    notes = conn.execute(
        """SELECT n.id, n.event_id, n.event_type, n.channel, n.rank, n.state, n.reason,
                  n.queue, n.attempts, n.created_at, n.activated_at, n.sent_at,
                  n.deadline, n.provider_message_id, n.last_error,
                  o.queue AS routed_queue
           FROM notifications n LEFT JOIN outbox o ON o.entity_id = n.id
           WHERE n.event_id = ANY(%s) ORDER BY n.occurred_at, n.event_id, n.rank""",
        (event_ids,)).fetchall()
    for note in notes:
        note["attempts_log"] = attempts.history(conn, note["id"])
    return notes
