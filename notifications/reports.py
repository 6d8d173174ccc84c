"""OTNR reports and the daily rollups behind them (`relay sla report`).

Counting follows notifications/sla.py (one SLA unit per transactional order event). A
report over [start, end) — by the event's `occurred_at` — reads `sla_daily` for every
whole day inside the range that is rolled up, and live rows for the rest (today, partial
days at the edges, days not rolled yet): a month over millions of rows reads ~30 small
rollup days instead of the table.

Rollups: a UTC day is rolled once it is *closed* — every event of it is past its deadline
(end of day + SLA + ROLLUP_GRACE) — so its on-time counts are final. Latency is stored as
counts per fixed bucket (sla.LATENCY_BOUNDS); percentiles are interpolated inside the
bucket, from rollups and live rows alike, so both agree.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta

from notifications import sla
from relay.db import connection, transaction
from relay.errors import InvalidInput
from relay.logs import get_logger

log = get_logger(__name__)

ROLLUP_GRACE = timedelta(minutes=10)
ROLLUP_LOOKBACK_DAYS = 62
DIMENSIONS = ("event_type", "channel", "brand", "country")


@dataclass
class Cell:
    events: int = 0          # counted events: on time + late
    on_time: int = 0
    late: int = 0
    unsent_late: int = 0     # never sent, past the deadline
    breached: int = 0        # marked by the check while still unsent at the deadline
    latency_sum_s: float = 0.0
    attempts: int = 0
    failed_attempts: int = 0
    buckets: list[int] = field(default_factory=sla.empty_buckets)

    def add(self, other: Cell) -> None:
        for f in fields(self):
            if f.name == "buckets":
                self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def summary(self) -> dict:
        sent = sum(self.buckets)
        return {
            "events": self.events, "on_time": self.on_time, "late": self.late,
            "otnr": sla.ratio(self.on_time, self.events), "unsent_late": self.unsent_late,
            "breached": self.breached, "attempts": self.attempts,
            "failed_attempts": self.failed_attempts,
            "error_rate": sla.ratio(self.failed_attempts, self.attempts),
            "latency_s": {
                "sent": sent,
                "mean": round(self.latency_sum_s / sent, 1) if sent else None,
                **{f"p{q}": _round(sla.percentile(self.buckets, q / 100))
                   for q in (50, 95, 99)}},
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


Key = tuple[str, str, str, str]   # event_type, channel, brand, country

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
      AND n.queue = %(transactional)s AND n.event_type <> 'delay_notice'
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
  AND n.queue = %(transactional)s AND n.event_type <> 'delay_notice'
  AND a.outcome IN ('sent', 'transient', 'permanent') AND a.kind = 'notification'
GROUP BY 1, 2, 3, 4
"""


def live_cells(conn, start: datetime, end: datetime, now: datetime) -> dict[Key, Cell]:
    """Counts from the notification rows of events that occurred in [start, end)."""
    cells: dict[Key, Cell] = defaultdict(Cell)
    params = {"start": start, "end": end, "now": now, "bounds": list(sla.LATENCY_BOUNDS),
              "transactional": sla.TRANSACTIONAL_QUEUE}
    for r in conn.execute(_EVENTS_SQL, params):
        cell = cells[(r["event_type"], r["channel"], r["brand"], r["country"])]
        cell.events += r["events"]
        cell.on_time += r["on_time"]
        cell.late += r["events"] - r["on_time"]
        cell.unsent_late += r["unsent_late"]
        cell.breached += r["breached"]
        cell.latency_sum_s += r["latency_sum_s"]
        if r["bucket"] is not None:
            cell.buckets[r["bucket"]] += r["events"]
    for r in conn.execute(_ATTEMPTS_SQL, params):
        cell = cells[(r["event_type"], r["channel"], r["brand"], r["country"])]
        cell.attempts += r["attempts"]
        cell.failed_attempts += r["failed_attempts"]
    return cells


# -- rollups ----------------------------------------------------------------------------
def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def last_closed_day(now: datetime, sla_s: float) -> date:
    """The latest day whose every event is past its deadline (plus grace)."""
    return (now - timedelta(seconds=sla_s) - ROLLUP_GRACE).date() - timedelta(days=1)


def rollup_day(day: date, now: datetime) -> bool:
    """Store `sla_daily` rows for one closed day (claimed: one roller per day)."""
    with transaction() as tx:
        claimed = tx.execute(
            """INSERT INTO sla_rollup_days (day, rolled_at, events, bounds)
               VALUES (%s, %s, 0, %s) ON CONFLICT (day) DO NOTHING RETURNING day""",
            (day, now, list(sla.LATENCY_BOUNDS))).fetchone()
        if not claimed:
            return False
        cells = live_cells(tx.conn, _day_start(day), _day_start(day + timedelta(days=1)), now)
        with tx.conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO sla_daily (day, event_type, channel, brand, country, events,
                       on_time, late, unsent_late, breached, latency_sum_s, latency_buckets,
                       attempts, failed_attempts)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                [(day, *key, c.events, c.on_time, c.late, c.unsent_late, c.breached,
                  c.latency_sum_s, c.buckets, c.attempts, c.failed_attempts)
                 for key, c in cells.items()])
        tx.execute("UPDATE sla_rollup_days SET events = %s WHERE day = %s",
                   (sum(c.events for c in cells.values()), day))
    return True


def rollup_due(now: datetime | None = None) -> list[date]:
    """Roll every closed day of the lookback window not rolled yet; return those days."""
    now = now or datetime.now(UTC)
    last = last_closed_day(now, sla.config().sla_s)
    first = last - timedelta(days=ROLLUP_LOOKBACK_DAYS - 1)
    with connection() as conn:
        done = {r["day"] for r in conn.execute(
            "SELECT day FROM sla_rollup_days WHERE day BETWEEN %s AND %s", (first, last))}
        conn.commit()
    rolled = []
    day = first
    while day <= last:
        if day not in done and rollup_day(day, now):
            rolled.append(day)
        day += timedelta(days=1)
    if rolled:
        log.info("sla.rolled_up", days=len(rolled), last=str(last))
    return rolled


# -- the report -------------------------------------------------------------------------
def _rolled_days(conn, start: datetime, end: datetime) -> list[date]:
    first = start.date() if start == _day_start(start.date()) else start.date() + timedelta(1)
    last = end.date() - timedelta(days=1)
    if last < first:
        return []
    rows = conn.execute("SELECT day, bounds FROM sla_rollup_days WHERE day BETWEEN %s AND %s"
                        " ORDER BY day", (first, last)).fetchall()
    return [r["day"] for r in rows if tuple(r["bounds"]) == sla.LATENCY_BOUNDS]


def _live_segments(start: datetime, end: datetime, days: list[date]):
    cursor = start
    for day in days:
        if _day_start(day) > cursor:
            yield cursor, _day_start(day)
        cursor = _day_start(day + timedelta(days=1))
    if cursor < end:
        yield cursor, end


def _rollup_cells(conn, days: list[date]) -> dict[Key, Cell]:
    cells: dict[Key, Cell] = defaultdict(Cell)
    if not days:
        return cells
    for r in conn.execute("SELECT * FROM sla_daily WHERE day = ANY(%s)", (days,)):
        cells[(r["event_type"], r["channel"], r["brand"], r["country"])].add(Cell(
            r["events"], r["on_time"], r["late"], r["unsent_late"], r["breached"],
            r["latency_sum_s"], r["attempts"], r["failed_attempts"],
            list(r["latency_buckets"])))
    return cells


def report(start: datetime, end: datetime, now: datetime | None = None) -> dict:
    """OTNR, breaches, error rate and latency percentiles, overall and per dimension."""
    now = now or datetime.now(UTC)
    end = min(end, now)
    with connection() as conn:
        days = _rolled_days(conn, start, end)
        cells = _rollup_cells(conn, days)
        segments = list(_live_segments(start, end, days))
        for seg_start, seg_end in segments:
            for key, cell in live_cells(conn, seg_start, seg_end, now).items():
                cells.setdefault(key, Cell()).add(cell)
        dead = conn.execute(
            """SELECT reason, count(*) AS n, count(*) FILTER (WHERE state = 'open') AS open
               FROM dead_letters WHERE kind = 'notification' AND created_at >= %s
               AND created_at < %s GROUP BY reason ORDER BY 2 DESC""", (start, end)).fetchall()
        conn.commit()
    overall = Cell()
    by: dict[str, dict[str, Cell]] = {d: defaultdict(Cell) for d in DIMENSIONS}
    for key, cell in cells.items():
        overall.add(cell)
        for dim, value in zip(DIMENSIONS, key, strict=True):
            by[dim][value].add(cell)
    summary = overall.summary()
    return {
        "range": {"start": start.isoformat(), "end": end.isoformat()},
        "sla_seconds": sla.config().sla_s, "target": sla.TARGET_OTNR,
        "met": None if summary["otnr"] is None else summary["otnr"] >= sla.TARGET_OTNR,
        "overall": summary,
        **{f"by_{dim}": {k: c.summary() for k, c in sorted(by[dim].items())}
           for dim in DIMENSIONS},
        "dead_letters": {"total": sum(r["n"] for r in dead),
                         "open": sum(r["open"] for r in dead),
                         "by_reason": {r["reason"]: r["n"] for r in dead}},
        "sources": {"rollup_days": len(days),
                    "live": [[a.isoformat(), b.isoformat()] for a, b in segments]},
    }


# -- ranges -----------------------------------------------------------------------------
_SINCE_RE = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: datetime) -> tuple[datetime, datetime]:
    match = _SINCE_RE.match(text or "")
    seconds = int(match.group(1)) * _UNITS[match.group(2)] if match else 0
    if not match or seconds <= 0 or seconds > 400 * 86400:
        raise InvalidInput("--since", f"{text!r}: use a duration like 90m, 24h or 7d "
                           "(at most 400d)")
    return now - timedelta(seconds=seconds), now


def parse_month(text: str, now: datetime) -> tuple[datetime, datetime]:
    match = re.fullmatch(r"(\d{4})-(\d{2})", (text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise InvalidInput("--month", f"{text!r}: use YYYY-MM, e.g. 2026-11")
    year, month = int(match.group(1)), int(match.group(2))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    if start > now:
        raise InvalidInput("--month", f"{text!r} is in the future")
    return start, min(end, now)
