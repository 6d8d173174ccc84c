"""SQL of what happens once per breached event (notifications/sla/delay.py): the breach
claim, the delay notice's event and rows, escalations, the alert mark. Every function but
`mark_alerted` runs in the check's transaction."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from relay.db import Tx, transaction


def claim(tx: Tx, notification_ids: list[uuid.UUID], now: datetime) -> list[dict]:
    """Record the events of these rows (delay notices aside) not recorded yet; returns
    the new `sla_breaches` rows. The primary key makes the first breach of an event win."""
    return tx.execute(
        """INSERT INTO sla_breaches (event_id, notification_id, customer_id, order_id,
                                     event_type, channel, brand, country, deadline,
                                     breached_at, alert_tried_at)
           SELECT event_id, id, customer_id, order_id, event_type, channel, brand, country,
                  deadline, %s, %s
           FROM notifications WHERE id = ANY(%s) AND event_type <> 'delay_notice'
           ORDER BY customer_id, deadline
           ON CONFLICT (event_id) DO NOTHING RETURNING *""",
        (now, now, notification_ids)).fetchall()


def lock_customer(tx: Tx, customer_id: str) -> None:
    """Serialise breaches of one customer across checkers until the transaction ends."""
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
               (f"relay.sla.customer:{customer_id}",))


def set_notice(tx: Tx, event_id: str, delay_event_id: str | None, channel: str | None,
               skipped: str | None) -> None:
    tx.execute("""UPDATE sla_breaches SET delay_event_id = %s, delay_channel = %s,
                  delay_skipped = %s WHERE event_id = %s""",
               (delay_event_id, channel, skipped, event_id))


def channel_states(tx: Tx, event_id: str) -> list[dict]:
    """[{channel, state}] of an event's rows, in plan order."""
    return tx.execute("SELECT channel, state FROM notifications WHERE event_id = %s"
                      " ORDER BY rank", (event_id,)).fetchall()


def notified_since(tx: Tx, order_id: str | None, event_id: str, since: datetime) -> bool:
    """Did a breach of this order (of this event, without an order) send a delay notice
    after `since`?"""
    key, value = ("order_id", order_id) if order_id else ("event_id", event_id)
    return tx.execute(
        f"""SELECT 1 FROM sla_breaches WHERE {key} = %s AND delay_event_id IS NOT NULL
            AND breached_at > %s LIMIT 1""", (value, since)).fetchone() is not None


def original_event(tx: Tx, event_id: str) -> dict:
    """{locale, payload} of a recorded order event."""
    return tx.execute("SELECT locale, payload FROM order_events WHERE event_id = %s",
                      (event_id,)).fetchone()


def insert_notice_event(tx: Tx, event_id: str, breach: dict, locale: str | None,
                        occurred_at: datetime, deadline: datetime, payload: dict) -> bool:
    """Record the delay notice's event; False when it exists already."""
    return tx.execute(
        """INSERT INTO order_events (event_id, type, order_id, customer_id, brand, country,
                                     locale, occurred_at, deadline, payload)
           VALUES (%s, 'delay_notice', %s, %s, %s, %s, %s, %s, %s, %s::json)
           ON CONFLICT (event_id) DO NOTHING RETURNING event_id""",
        (event_id, breach["order_id"], breach["customer_id"], breach["brand"],
         breach["country"], locale, occurred_at, deadline, json.dumps(payload)),
    ).fetchone() is not None


def insert_notice_row(tx: Tx, notification_id: uuid.UUID, event_id: str, channel: str,
                      rank: int, breach: dict, queue: str, now: datetime,
                      deadline: datetime) -> None:
    """One channel of the delay notice: the first pending (active now), the rest standby;
    all expedited from the start."""
    tx.execute(
        """INSERT INTO notifications (id, event_id, channel, rank, event_type, order_id,
               customer_id, brand, country, queue, state, reason, occurred_at, deadline,
               activated_at, expedited_at)
           VALUES (%s, %s, %s, %s, 'delay_notice', %s, %s, %s, %s, %s, %s, %s, %s, %s,
                   %s, %s)""",
        (notification_id, event_id, channel, rank, breach["order_id"], breach["customer_id"],
         breach["brand"], breach["country"], queue,
         "pending" if rank == 0 else "standby", f"sla_breach:{breach['event_id']}"[:200],
         now, deadline, now if rank == 0 else None, now))


def recent_breaches(tx: Tx, customer_id: str, since: datetime) -> tuple[int, list[str]]:
    """(count, event ids oldest first) of a customer's breaches after `since`."""
    row = tx.execute(
        """SELECT count(*) AS n, array_agg(event_id ORDER BY breached_at) AS events
           FROM sla_breaches WHERE customer_id = %s AND breached_at > %s""",
        (customer_id, since)).fetchone()
    return int(row["n"]), row["events"] or []


def escalated_since(tx: Tx, customer_id: str, since: datetime) -> bool:
    return tx.execute("""SELECT 1 FROM sla_escalations WHERE customer_id = %s
                         AND opened_at > %s LIMIT 1""", (customer_id, since)).fetchone() is not None


def open_escalation(tx: Tx, customer_id: str, brand: str, breaches: int,
                    event_ids: list[str], now: datetime) -> None:
    tx.execute(
        """INSERT INTO sla_escalations (customer_id, brand, breaches, event_ids, opened_at)
           VALUES (%s, %s, %s, %s, %s)""", (customer_id, brand, breaches, event_ids, now))


def mark_alerted(event_id: str) -> None:
    """The breach's alert was posted (its own transaction: after the check's commit)."""
    with transaction() as tx:
        tx.execute("UPDATE sla_breaches SET alerted_at = now() WHERE event_id = %s",
                   (event_id,))
