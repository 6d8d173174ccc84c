"""The SLA's pure part: a row's and an event's on-time status, the latency buckets the
rollups store, percentiles from them, and the breach prediction from a backlog.

Counting rules: notifications/sla/__init__.py. Nothing here touches the database; the
only outside read is the SLA_* tunables (config.py) when a caller passes no warn age.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from notifications.sla.config import config

TARGET_OTNR = 0.95
# Upper bounds (seconds) of the latency buckets the rollups store; bucket i holds
# bounds[i-1] <= latency < bounds[i], the last one everything from 1 day on.
LATENCY_BOUNDS: tuple[float, ...] = (
    1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 4500, 5400,
    6300, 7200, 9000, 10800, 14400, 21600, 43200, 86400)


def on_time_status(row: Mapping, now: datetime, warn_s: float | None = None) -> str:
    """on_time | late | at_risk | pending | excluded, for one notification row (needs
    state, sent_at, occurred_at, deadline). Rows that will never deliver (suppressed,
    skipped, standby, failed) are `excluded` unless sent; their event's status lives on
    the row that delivers it (see `event_status`)."""
    if row.get("sent_at") is not None:
        return "on_time" if row["sent_at"] <= row["deadline"] else "late"
    if row.get("state") not in ("pending", "sending"):
        return "excluded"
    if now > row["deadline"]:
        return "late"
    cfg = config() if warn_s is None or row.get("occurred_at") is None else None
    warn = cfg.warn_s if warn_s is None else warn_s
    occurred = row.get("occurred_at") or row["deadline"] - timedelta(seconds=cfg.sla_s)
    return "at_risk" if (now - occurred).total_seconds() >= warn else "pending"


def event_status(rows: Sequence[Mapping], now: datetime, warn_s: float | None = None) -> str:
    """The SLA status of one event from all its rows (see the counting rules above)."""
    sent = [r for r in rows if r.get("sent_at") is not None]
    if sent:
        return on_time_status(min(sent, key=lambda r: r["sent_at"]), now, warn_s)
    live = [r for r in rows if r.get("state") != "suppressed"]
    if not live:
        return "excluded"
    first = live[0]
    if now > first["deadline"]:
        return "late"
    return on_time_status({**first, "state": "pending"}, now, warn_s)


def bucket_of(latency_s: float) -> int:
    """Index of the latency bucket (same rule as SQL `width_bucket(x, bounds)`)."""
    return bisect.bisect_right(LATENCY_BOUNDS, latency_s)


def empty_buckets() -> list[int]:
    return [0] * (len(LATENCY_BOUNDS) + 1)


def percentile(buckets: Sequence[int], q: float) -> float | None:
    """Approximate the q-quantile (0..1) from bucket counts, interpolating linearly inside
    the bucket; the open last bucket reports its lower bound. None without data."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(buckets):
        if count and seen + count >= rank:
            low = LATENCY_BOUNDS[i - 1] if i > 0 else 0.0
            if i >= len(LATENCY_BOUNDS):
                return float(low)
            high = LATENCY_BOUNDS[i]
            return low + (high - low) * max(0.0, rank - seen) / count
        seen += count
    return float(LATENCY_BOUNDS[-1])


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


@dataclass(frozen=True)
class Backlog:
    """One queue's unsent rows as (deadline, count) groups sorted by deadline, and what it
    sent over the measurement window."""

    queue: str
    deadlines: Sequence[tuple[datetime, int]]
    sent_in_window: int
    window_s: float

    @property
    def rate_per_s(self) -> float:
        return self.sent_in_window / self.window_s if self.window_s > 0 else 0.0


@dataclass(frozen=True)
class Prediction:
    queue: str
    pending: int
    drain_per_min: float
    first_breach_at: datetime | None = None
    at_risk: int = 0
    seconds_to_breach: float | None = None
    drained_at: datetime | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        doc = asdict(self)
        for key in ("first_breach_at", "drained_at"):
            doc[key] = doc[key].isoformat() if doc[key] else None
        return doc


def predict(backlog: Backlog, now: datetime) -> Prediction:
    """Drain the backlog in deadline order at the measured rate: the first group that
    would still be waiting at its deadline is the predicted breach. Rows already past
    their deadline are the breach check's business, but they still stand in line."""
    rate = backlog.rate_per_s
    ahead = 0
    first: datetime | None = None
    at_risk = 0
    for deadline, count in backlog.deadlines:
        ahead += count
        if deadline <= now:
            continue
        done_in = ahead / rate if rate > 0 else math.inf
        if done_in > (deadline - now).total_seconds():
            at_risk += count
            first = first or deadline
    drained = now + timedelta(seconds=ahead / rate) if rate > 0 and ahead else None
    return Prediction(
        queue=backlog.queue, pending=ahead, drain_per_min=round(rate * 60, 2),
        first_breach_at=first, at_risk=at_risk, drained_at=drained,
        seconds_to_breach=None if first is None else (first - now).total_seconds())


def annotate_order(doc: dict, now: datetime | None = None) -> dict:
    """Add on-time status to `notifications.oncall.order_history()` output, in place:
    `on_time` on each notification (on_time|late|at_risk|pending|excluded) and on each
    event (the event's SLA status; `excluded` for delay notices and promotions)."""
    now = now or datetime.now(UTC)
    warn_s = config().warn_s
    by_event: dict[str, list] = {}
    for note in doc.get("notifications", []):
        note["on_time"] = on_time_status(note, now, warn_s)
        by_event.setdefault(note["event_id"], []).append(note)
    for ev in doc.get("events", []):
        notes = sorted(by_event.get(ev["event_id"], []), key=lambda n: n.get("rank", 0))
        measured = ev.get("type") not in ("delay_notice", "promotion")
        ev["on_time"] = event_status(notes, now, warn_s) if measured and notes else "excluded"
    return doc

