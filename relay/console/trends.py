"""The Trends page's data: the overview's figures as series over 24 h (hourly) or 7 / 30
days (daily). Notifications come from the SLA rollups (relay.console.ontime); the email
sync and dead letters have no rollups, so they are counted from indexed rows per bucket
(migration 0520's indexes: one range scan per series, ~100,000 changes in tens of ms)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from relay.console import ontime
from relay.db import connection
from relay.errors import InvalidInput

RANGES = {"24h": ("hour", 24), "7d": ("day", 7), "30d": ("day", 30)}

_SYNC_SQL = """
WITH b AS (SELECT generate_series(%(first)s::timestamptz, %(last)s::timestamptz,
                                  %(step)s::interval) AS t)
SELECT b.t,
       (SELECT count(*) FROM email_changes c
         WHERE c.requested_at >= b.t AND c.requested_at < b.t + %(step)s::interval) AS changes,
       (SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (
                   ORDER BY extract(epoch FROM c.synced_at - c.requested_at))
          FROM email_changes c WHERE c.state = 'synced'
           AND c.requested_at >= b.t AND c.requested_at < b.t + %(step)s::interval) AS lat,
       (SELECT count(*) FROM attempts a WHERE a.kind = 'email_change'
           AND a.started_at >= b.t AND a.started_at < b.t + %(step)s::interval) AS attempts,
       (SELECT count(*) FROM attempts a WHERE a.kind = 'email_change' AND a.outcome <> 'synced'
           AND a.started_at >= b.t AND a.started_at < b.t + %(step)s::interval) AS failed,
       (SELECT count(*) FROM dead_letters d
         WHERE d.created_at >= b.t AND d.created_at < b.t + %(step)s::interval) AS dead
FROM b ORDER BY b.t
"""


def series(range_name: str, now: datetime | None = None) -> dict:
    if range_name not in RANGES:
        raise InvalidInput("range", f"must be one of {', '.join(RANGES)}; got {range_name!r}")
    now = now or datetime.now(UTC)
    unit, count = RANGES[range_name]
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    last = now.replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        last = last.replace(hour=0)
    first = last - step * (count - 1)
    with connection() as conn:
        rows = conn.execute(_SYNC_SQL, {"first": first, "last": last, "step": step}).fetchall()
        conn.commit()
    sync = [{"t": r["t"].isoformat(timespec="minutes"),
             "changes_per_min": round(r["changes"] / (step.total_seconds() / 60), 3),
             "error_rate": round(r["failed"] / r["attempts"], 4) if r["attempts"] else None,
             "p50_s": _r(r["lat"][0] if r["lat"] else None),
             "p99_s": _r(r["lat"][1] if r["lat"] else None),
             "dead_letters": r["dead"]} for r in rows]
    notes = ontime.hourly_series(now) if unit == "hour" else ontime.daily_series(count, now)
    return {"range": range_name, "unit": unit, "sync": sync, "notifications": notes,
            "targets": {"sync_error_rate": 0.01, "otnr": 0.95}}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
