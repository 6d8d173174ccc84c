"""On-time figures for the console, counted exactly as `relay sla report` counts them.

Per UTC day: the `sla_daily` rollup when the day is rolled up, otherwise the live rows —
the same `notifications.sla.reports` functions (`_rolled_days`, `_rollup_cells`,
`live_cells`) the report uses, so a day reads the same here and in the monthly review.
Thirty days therefore cost ~30 primary-key reads plus live counting of the (at most two
or three) days not rolled up yet. Windows: today, the last 7 and 30 calendar days
(today included); the 24-hour trend counts live rows hour by hour.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from notifications.sla import reports
from notifications.sla.math import TARGET_OTNR
from notifications.sla.reports import Cell, Key
from relay.db import connection

WINDOWS = (("today", 1), ("7d", 7), ("30d", 30))


def cells_by_day(first: date, now: datetime) -> dict[date, dict[Key, Cell]]:
    """Cells per day from `first` to today (UTC)."""
    out: dict[date, dict[Key, Cell]] = {}
    start = reports._day_start(first)
    with connection() as conn:
        rolled = set(reports._rolled_days(conn, start, now))
        day = first
        while day <= now.date():
            if day in rolled:
                out[day] = reports._rollup_cells(conn, [day])
            else:
                end = min(reports._day_start(day + timedelta(days=1)), now)
                out[day] = reports.live_cells(conn, reports._day_start(day), end, now)
            day += timedelta(days=1)
        conn.commit()
    return out


def _total(cells: dict[Key, Cell]) -> Cell:
    total = Cell()
    for cell in cells.values():
        total.add(cell)
    return total


def _by(cells: dict[Key, Cell], index: int) -> dict[str, Cell]:
    out: dict[str, Cell] = defaultdict(Cell)
    for key, cell in cells.items():
        out[key[index]].add(cell)
    return dict(sorted(out.items()))


def windows(now: datetime | None = None) -> dict:
    """OTNR today / 7 d / 30 d (with events, late, error rate), and the 7-day figures by
    channel and by event type."""
    now = now or datetime.now(UTC)
    days = cells_by_day(now.date() - timedelta(days=29), now)
    doc: dict = {"target": TARGET_OTNR, "windows": {}}
    week: dict[Key, Cell] = defaultdict(Cell)
    for name, span in WINDOWS:
        merged: dict[Key, Cell] = defaultdict(Cell)
        for day, cells in days.items():
            if day > now.date() - timedelta(days=span):
                for key, cell in cells.items():
                    merged[key].add(cell)
        if name == "7d":
            week = merged
        doc["windows"][name] = _brief(_total(merged).summary())
    doc["by_channel_7d"] = {k: _brief(c.summary()) for k, c in _by(week, 1).items()}
    doc["by_event_type_7d"] = {k: _brief(c.summary()) for k, c in _by(week, 0).items()}
    return doc


def _brief(summary: dict) -> dict:
    return {"events": summary["events"], "on_time": summary["on_time"],
            "late": summary["late"], "otnr": summary["otnr"],
            "breached": summary["breached"], "error_rate": summary["error_rate"],
            "p50_s": summary["latency_s"]["p50"], "p99_s": summary["latency_s"]["p99"]}


def daily_series(span_days: int, now: datetime | None = None) -> list[dict]:
    now = now or datetime.now(UTC)
    days = cells_by_day(now.date() - timedelta(days=span_days - 1), now)
    return [{"t": day.isoformat(), **_brief(_total(cells).summary())}
            for day, cells in sorted(days.items())]


def hourly_series(now: datetime | None = None) -> list[dict]:
    """The last 24 hours, hour by hour, from live rows (hours are not rolled up)."""
    now = now or datetime.now(UTC)
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    out = []
    with connection() as conn:
        for h in range(24):
            start = first + timedelta(hours=h)
            cells = reports.live_cells(conn, start, min(start + timedelta(hours=1), now), now)
            out.append({"t": start.isoformat(timespec="minutes"),
                        **_brief(_total(cells).summary())})
        conn.commit()
    return out
