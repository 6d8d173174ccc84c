"""SQL of the SLA beat check (notifications/sla/check.py) and its heartbeat.

Every query of the check reads a partial index of 0400_sla.sql (unsent transactional
rows): its cost grows with that backlog, not with the table nor with a campaign's pending
promotions.

The queue's name (relay/names.py) is written into the statement, not bound: PostgreSQL
uses those partial indexes only for a plan that sees the value, and a bound one is lost
once psycopg prepares the statement (after 5 runs) and the server settles on a generic
plan — which then reads 0300's `notifications_open`, unsent rows of every queue.
"""

from __future__ import annotations

import json
from datetime import datetime

from psycopg.types.json import Jsonb

from relay.db import Tx, connection, transaction
from relay.names import Queues

_OPEN = f"state IN ('pending', 'sending') AND queue = '{Queues.TRANSACTIONAL}'"


def claim_expedite(tx: Tx, now: datetime, cut: datetime, batch: int) -> list[dict]:
    """Mark unsent rows that occurred before `cut` and were never expedited (a claimed
    row only once its claim lapsed); -> [{id, event_type}]. Safe with two checkers."""
    return tx.execute(
        f"""WITH due AS (
                SELECT id FROM notifications
                WHERE {_OPEN} AND expedited_at IS NULL
                  AND occurred_at <= %(cut)s
                  AND (state = 'pending' OR claimed_until < %(now)s)
                ORDER BY occurred_at LIMIT %(n)s FOR UPDATE SKIP LOCKED)
            UPDATE notifications n SET expedited_at = %(now)s FROM due
            WHERE n.id = due.id RETURNING n.id, n.event_type""",
        {"cut": cut, "now": now, "n": batch}).fetchall()


# A dead-lettered order update is as unsent as a pending one: it breaches at its
# deadline too. Read through the open/discarded dead letters (index dead_letters_state_
# created), not the failed rows, most of which an earlier fallback channel made good.
_DEAD_UNSENT = f"""
    SELECT n.id FROM dead_letters d JOIN notifications n ON n.id = d.entity_id
    WHERE d.kind = 'notification' AND d.state IN ('open', 'discarded')
      AND d.created_at > %(since)s AND n.state = 'failed'
      AND n.queue = '{Queues.TRANSACTIONAL}' AND n.breached_at IS NULL
      AND n.deadline <= %(now)s
    ORDER BY n.deadline LIMIT %(n)s FOR UPDATE OF n SKIP LOCKED"""


def mark_breached(tx: Tx, now: datetime, batch: int, dead_since: datetime) -> list[dict]:
    """Mark unsent rows — pending, retrying, or dead-lettered after `dead_since` — past
    their deadline; -> [{id, event_type, channel}]."""
    return tx.execute(
        f"""WITH due AS (
                SELECT id FROM notifications
                WHERE {_OPEN} AND breached_at IS NULL AND deadline <= %(now)s
                ORDER BY deadline LIMIT %(n)s FOR UPDATE SKIP LOCKED),
            dead AS ({_DEAD_UNSENT})
            UPDATE notifications n SET breached_at = %(now)s
            FROM (SELECT id FROM due UNION SELECT id FROM dead) AS unsent
            WHERE n.id = unsent.id RETURNING n.id, n.event_type, n.channel""",
        {"now": now, "n": batch, "since": dead_since}).fetchall()


def claim_alert_reposts(now: datetime, cut: datetime, batch: int) -> list[dict]:
    """Breaches whose alert was not marked posted, last tried before `cut`: mark them
    tried now and return them (whole `sla_breaches` rows)."""
    with transaction() as tx:
        return tx.execute(
            """UPDATE sla_breaches b SET alert_tried_at = %(now)s
               FROM (SELECT event_id FROM sla_breaches
                     WHERE alerted_at IS NULL
                       AND coalesce(alert_tried_at, breached_at) <= %(cut)s
                     ORDER BY breached_at LIMIT %(n)s FOR UPDATE SKIP LOCKED) AS due
               WHERE b.event_id = due.event_id RETURNING b.*""",
            {"now": now, "cut": cut, "n": batch}).fetchall()


def unsent_counts(now: datetime, cut: datetime) -> dict:
    """-> {unsent, late (past deadline), at_risk (occurred before `cut`, not late yet),
    oldest (occurred_at or None)} over unsent transactional rows."""
    with connection() as conn:
        row = conn.execute(
            f"""SELECT count(*) AS unsent,
                       count(*) FILTER (WHERE deadline <= %(now)s) AS late,
                       count(*) FILTER (WHERE occurred_at <= %(cut)s
                                        AND deadline > %(now)s) AS at_risk,
                       min(occurred_at) AS oldest
                FROM notifications WHERE {_OPEN}""", {"now": now, "cut": cut}).fetchone()
        conn.commit()
    return row


def backlog(since: datetime, now: datetime) -> tuple[list[dict], dict[str, int]]:
    """Unsent rows as [{queue, deadline (minute), n}] sorted by queue and deadline, and
    rows sent in (since, now] by queue."""
    with connection() as conn:
        groups = conn.execute(
            f"""SELECT queue, date_trunc('minute', deadline) AS deadline, count(*) AS n
                FROM notifications WHERE {_OPEN} GROUP BY 1, 2 ORDER BY 1, 2""").fetchall()
        sent = conn.execute(
            """SELECT queue, count(*) AS n FROM notifications
               WHERE sent_at > %s AND sent_at <= %s GROUP BY queue""", (since, now)).fetchall()
        conn.commit()
    return groups, {r["queue"]: r["n"] for r in sent}


def open_escalations() -> int:
    with connection() as conn:
        n = conn.execute("SELECT count(*) AS n FROM sla_escalations WHERE resolved_at IS NULL"
                         ).fetchone()["n"]
        conn.commit()
    return n


# -- heartbeats -------------------------------------------------------------------------
def claim_every(name: str, now: datetime, every_s: float) -> bool:
    """True for exactly one caller per `every_s` (the heartbeats row `name` is the claim)."""
    with transaction() as tx:
        row = tx.execute(
            """INSERT INTO heartbeats (name, beat_at) VALUES (%(name)s, %(now)s)
               ON CONFLICT (name) DO UPDATE SET beat_at = excluded.beat_at
               WHERE heartbeats.beat_at <= excluded.beat_at - make_interval(secs => %(s)s)
               RETURNING name""", {"name": name, "now": now, "s": every_s}).fetchone()
    return row is not None


def beat(name: str, now: datetime, detail: dict) -> None:
    """Record a run of `name` with what it did (stored as JSON; dates as text)."""
    doc = json.loads(json.dumps(detail, default=str))
    with transaction() as tx:
        tx.execute(
            """INSERT INTO heartbeats (name, beat_at, detail) VALUES (%s, %s, %s)
               ON CONFLICT (name) DO UPDATE SET beat_at = excluded.beat_at,
                                                detail = excluded.detail""",
            (name, now, Jsonb(doc)))


def last_beat(tx: Tx, name: str) -> datetime | None:
    row = tx.execute("SELECT beat_at FROM heartbeats WHERE name = %s", (name,)).fetchone()
    return None if row is None else row["beat_at"]


def note_stale_alerted(tx: Tx, name: str, now: datetime) -> bool:
    """Record on the heartbeat that its silence was alerted; False if it already was."""
    return tx.execute(
        """UPDATE heartbeats SET detail = coalesce(detail, '{}'::jsonb)
                  || jsonb_build_object('stale_alerted_at', %s::text)
           WHERE name = %s AND NOT coalesce(detail, '{}'::jsonb) ? 'stale_alerted_at'
           RETURNING beat_at""", (now.isoformat(), name)).fetchone() is not None


def claim_once(tx: Tx, name: str, now: datetime) -> bool:
    """True for the first caller ever (a heartbeats row `name` that nobody wrote yet)."""
    return tx.execute("""INSERT INTO heartbeats (name, beat_at) VALUES (%s, %s)
                         ON CONFLICT (name) DO NOTHING RETURNING name""",
                      (name, now)).fetchone() is not None

