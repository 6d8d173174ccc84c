"""OTNR reports and the daily rollups behind them (`relay sla report`).

Counting follows notifications/sla/__init__.py (one SLA unit per transactional order
event). A
report over [start, end) — by the event's `occurred_at` — reads `sla_daily` for every
whole day inside the range that is rolled up, and live rows for the rest (today, partial
days at the edges, days not rolled yet): a month over millions of rows reads ~30 small
rollup days instead of the table.

Rollups: a UTC day is rolled once it is *closed* — every event of it is past its deadline
(end of day + SLA + ROLLUP_GRACE) — so its on-time counts are final. Latency is stored as
counts per fixed bucket (math.LATENCY_BOUNDS); percentiles are interpolated inside the
bucket, from rollups and live rows alike, so both agree. The SQL is in
notifications/store/reports.py.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta

from notifications.sla.config import config
from notifications.sla.math import LATENCY_BOUNDS, TARGET_OTNR, empty_buckets, percentile, ratio
from notifications.store import reports as store
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
    buckets: list[int] = field(default_factory=empty_buckets)

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
            "otnr": ratio(self.on_time, self.events), "unsent_late": self.unsent_late,
            "breached": self.breached, "attempts": self.attempts,
            "failed_attempts": self.failed_attempts,
            "error_rate": ratio(self.failed_attempts, self.attempts),
            "latency_s": {
                "sent": sent,
                "mean": round(self.latency_sum_s / sent, 1) if sent else None,
                **{f"p{q}": _round(percentile(self.buckets, q / 100))
                   for q in (50, 95, 99)}},
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


Key = tuple[str, str, str, str]   # event_type, channel, brand, country

def live_cells(conn, start: datetime, end: datetime, now: datetime) -> dict[Key, Cell]:
    """Counts from the notification rows of events that occurred in [start, end)."""
    cells: dict[Key, Cell] = defaultdict(Cell)
    events, attempts = store.live_counts(conn, start, end, now, LATENCY_BOUNDS)
    for r in events:
        cell = cells[(r["event_type"], r["channel"], r["brand"], r["country"])]
        cell.events += r["events"]
        cell.on_time += r["on_time"]
        cell.late += r["events"] - r["on_time"]
        cell.unsent_late += r["unsent_late"]
        cell.breached += r["breached"]
        cell.latency_sum_s += r["latency_sum_s"]
        if r["bucket"] is not None:
            cell.buckets[r["bucket"]] += r["events"]
    for r in attempts:
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
        claimed = store.claim_day(tx, day, now, LATENCY_BOUNDS)
        if not claimed:
            return False
        cells = live_cells(tx.conn, _day_start(day), _day_start(day + timedelta(days=1)), now)
        store.insert_daily(tx, [
            (day, *key, c.events, c.on_time, c.late, c.unsent_late, c.breached,
             c.latency_sum_s, c.buckets, c.attempts, c.failed_attempts)
            for key, c in cells.items()])
        store.set_day_events(tx, day, sum(c.events for c in cells.values()))
    return True


def rollup_due(now: datetime | None = None) -> list[date]:
    """Roll every closed day of the lookback window not rolled yet; return those days."""
    now = now or datetime.now(UTC)
    last = last_closed_day(now, config().sla_s)
    first = last - timedelta(days=ROLLUP_LOOKBACK_DAYS - 1)
    done = store.rolled_day_set(first, last)
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
    rows = store.rolled_days(conn, first, last)
    return [r["day"] for r in rows if tuple(r["bounds"]) == LATENCY_BOUNDS]


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
    for r in store.daily_rows(conn, days):
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
        dead = store.dead_letters_by_reason(conn, start, end)
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
        "sla_seconds": config().sla_s, "target": TARGET_OTNR,
        "met": None if summary["otnr"] is None else summary["otnr"] >= TARGET_OTNR,
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
