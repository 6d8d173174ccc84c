"""SQL of intake (notifications/producer.py): order events and their notification rows.
Every function runs in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import psycopg

from relay.db import Tx, copy_rows
from relay.logs import get_logger

log = get_logger(__name__)

EVENT_TYPES = (("event_id", "text"), ("type", "text"), ("order_id", "text"),
               ("customer_id", "text"), ("brand", "text"), ("country", "text"),
               ("locale", "text"), ("occurred_at", "timestamptz"),
               ("deadline", "timestamptz"), ("expires", "timestamptz"),
               # json's binary form is its text: the serialized document goes in as is
               # (declared "json", psycopg would encode the string once more)
               ("payload", "text"))
_EVENT_COLUMNS = ", ".join(name for name, _ in EVENT_TYPES)

NOTIFICATION_TYPES = (("id", "uuid"), ("event_id", "text"), ("channel", "text"),
                      ("rank", "int2"), ("event_type", "text"), ("order_id", "text"),
                      ("customer_id", "text"), ("brand", "text"), ("country", "text"),
                      ("queue", "text"), ("state", "text"), ("reason", "text"),
                      ("occurred_at", "timestamptz"), ("deadline", "timestamptz"),
                      ("activated_at", "timestamptz"), ("campaign_id", "text"))


def insert_events(tx: Tx, rows: Sequence[tuple]) -> set[str]:
    """Insert the events (rows in EVENT_TYPES order, event_id first) not yet known;
    return the ids that were new.

    Bulk: look up which ids exist, COPY the others straight into the table (one write per
    event), under a savepoint. Only if a concurrent intake inserted one of them in between
    (a unique violation) does the batch go the slower way: COPY into a staging table, then
    INSERT … ON CONFLICT DO NOTHING."""
    if len(rows) == 1:
        found = tx.execute(
            f"""INSERT INTO order_events ({_EVENT_COLUMNS})
                VALUES ({", ".join(["%s"] * len(EVENT_TYPES))})
                ON CONFLICT (event_id) DO NOTHING RETURNING event_id""", rows[0]).fetchall()
        return {r["event_id"] for r in found}
    known = known_event_ids(tx, [r[0] for r in rows])
    new = [r for r in rows if r[0] not in known]
    try:
        with tx.conn.transaction():
            copy_rows(tx, "order_events", EVENT_TYPES, new)
        return {r[0] for r in new}
    except psycopg.errors.UniqueViolation:
        log.info("notifications.intake_race", events=len(new))
    tx.execute("""CREATE TEMP TABLE IF NOT EXISTS order_events_in
                  (LIKE order_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS""")
    copy_rows(tx, "order_events_in", EVENT_TYPES, new)
    found = tx.execute(
        f"""INSERT INTO order_events ({_EVENT_COLUMNS}) SELECT {_EVENT_COLUMNS}
            FROM order_events_in ON CONFLICT (event_id) DO NOTHING RETURNING event_id"""
    ).fetchall()
    return {r["event_id"] for r in found}


def known_event_ids(tx: Tx, event_ids: list[str]) -> set[str]:
    return {r["event_id"] for r in tx.execute(
        "SELECT event_id FROM order_events WHERE event_id = ANY(%s)", (event_ids,)).fetchall()}


def stages_of_orders(tx: Tx, order_ids: list[str], types: list[str]) -> list[dict]:
    """[{order_id, type, occurred_at}] of the recorded events of these orders and types."""
    return tx.execute(
        """SELECT order_id, type, occurred_at FROM order_events
           WHERE order_id = ANY(%s) AND type = ANY(%s)""", (order_ids, types)).fetchall()


def copy_notifications(tx: Tx, rows: Iterable[tuple]) -> None:
    """Rows in NOTIFICATION_TYPES order."""
    copy_rows(tx, "notifications", NOTIFICATION_TYPES, rows)


def notifications_of_event(tx: Tx, event_id: str) -> list[dict]:
    """[{id, event_id, channel, state, reason, queue, deadline}] in plan order."""
    return tx.execute(
        """SELECT id, event_id, channel, state, reason, queue, deadline FROM notifications
           WHERE event_id = %s ORDER BY rank""", (event_id,)).fetchall()
