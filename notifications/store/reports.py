"""SQL of the OTNR reports and the daily rollups (notifications/sla/reports.py).

Counting follows notifications/sla/__init__.py: one SLA unit per transactional order
event (the queue is a parameter), delay notices aside.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from relay.db import Tx, connection
from relay.names import Queues

# Per (event_type, channel, brand, country, latency bucket): counted events.
_EVENTS_SQL = """
WITH ev AS (
    SELECT n.event_id, min(n.event_type) AS event_type, min(n.brand) AS brand,
           min(n.country) AS country, min(n.occurred_at) AS occurred_at,
           min(n.deadline) AS deadline, min(n.sent_at) AS sent_at,
           coalesce((array_agg(n.channel ORDER BY n.sent_at)
                        FILTER (WHERE n.sent_at IS NOT NULL))[1],
                    (array_agg(n.channel ORDER BY n.rank)
                        FILTER (WHERE n.state <> 'suppressed'))[1]) AS channel,
           bool_or(n.breached_at IS NOT NULL) AS breached
    FROM notifications n
    WHERE n.occurred_at >= %(start)s AND n.occurred_at < %(end)s
      AND n.queue = %(queue)s AND n.event_type <> 'delay_notice'
    GROUP BY n.event_id
    HAVING bool_or(n.state <> 'suppressed')
)
SELECT event_type, channel, brand, country,
       width_bucket(extract(epoch FROM sent_at - occurred_at)::float8,
                    %(bounds)s::float8[]) AS bucket,
       count(*) AS events,
       count(*) FILTER (WHERE sent_at <= deadline) AS on_time,
       count(*) FILTER (WHERE sent_at IS NULL) AS unsent_late,
       count(*) FILTER (WHERE breached) AS breached,
       coalesce(sum(extract(epoch FROM sent_at - occurred_at)), 0)::float8 AS latency_sum_s
FROM ev
WHERE sent_at IS NOT NULL OR deadline < %(now)s
GROUP BY 1, 2, 3, 4, 5
"""

_ATTEMPTS_SQL = """
SELECT n.event_type, n.channel, n.brand, n.country, count(*) AS attempts,
       count(*) FILTER (WHERE a.outcome IN ('transient', 'permanent')) AS failed_attempts
FROM notifications n JOIN attempts a ON a.entity_id = n.id
WHERE n.occurred_at >= %(start)s AND n.occurred_at < %(end)s
  AND n.queue = %(queue)s AND n.event_type <> 'delay_notice'
  AND a.outcome IN ('sent', 'transient', 'permanent') AND a.kind = 'notification'
GROUP BY 1, 2, 3, 4
"""


def live_counts(conn, start: datetime, end: datetime, now: datetime,
                bounds: Sequence[float]) -> tuple[list[dict], list[dict]]:
    """Counts from the rows of events that occurred in [start, end): (event rows by
    dimensions and latency bucket, attempt rows by dimensions)."""
    params = {"start": start, "end": end, "now": now, "bounds": list(bounds),
              "queue": Queues.TRANSACTIONAL}
    return (conn.execute(_EVENTS_SQL, params).fetchall(),
            conn.execute(_ATTEMPTS_SQL, params).fetchall())


def claim_day(tx: Tx, day: date, now: datetime, bounds: Sequence[float]) -> bool:
    """Claim the rollup of `day` (one roller per day); False if it is rolled already."""
    return tx.execute(
        """INSERT INTO sla_rollup_days (day, rolled_at, events, bounds)
           VALUES (%s, %s, 0, %s) ON CONFLICT (day) DO NOTHING RETURNING day""",
        (day, now, list(bounds))).fetchone() is not None


def insert_daily(tx: Tx, rows: list[tuple]) -> None:
    """Rows (day, event_type, channel, brand, country, events, on_time, late, unsent_late,
    breached, latency_sum_s, latency_buckets, attempts, failed_attempts)."""
    with tx.conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO sla_daily (day, event_type, channel, brand, country, events,
                   on_time, late, unsent_late, breached, latency_sum_s, latency_buckets,
                   attempts, failed_attempts)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""", rows)


def set_day_events(tx: Tx, day: date, events: int) -> None:
    tx.execute("UPDATE sla_rollup_days SET events = %s WHERE day = %s", (events, day))


def rolled_days(conn, first: date, last: date) -> list[dict]:
    """[{day, bounds}] of the rolled days in [first, last], in order."""
    return conn.execute("SELECT day, bounds FROM sla_rollup_days WHERE day BETWEEN %s AND %s"
                        " ORDER BY day", (first, last)).fetchall()


def rolled_day_set(first: date, last: date) -> set[date]:
    with connection() as conn:
        days = {r["day"] for r in rolled_days(conn, first, last)}
        conn.commit()
    return days


def daily_rows(conn, days: list[date]) -> list[dict]:
    return conn.execute("SELECT * FROM sla_daily WHERE day = ANY(%s)", (days,)).fetchall()


def dead_letters_by_reason(conn, start: datetime, end: datetime) -> list[dict]:
    """[{reason, n, open}] of notification dead letters created in [start, end)."""
    return conn.execute(
        """SELECT reason, count(*) AS n, count(*) FILTER (WHERE state = 'open') AS open
           FROM dead_letters WHERE kind = 'notification' AND created_at >= %s
           AND created_at < %s GROUP BY reason ORDER BY 2 DESC""", (start, end)).fetchall()
