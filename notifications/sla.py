"""The 2-hour SLA: the one place for its math and its checks.

Promise: 95 % of order notifications reach the customer within NOTIFICATION_SLA_SECONDS
(2 h) of the event. Each event's `deadline` is `occurred_at + NOTIFICATION_SLA_SECONDS`,
fixed at intake.

What counts (the "SLA unit" is the order event, not the notification row):
- transactional events only (queue notify.transactional); promotions and our own
  `delay_notice` events are not measured;
- an event whose every row is suppressed (opted out, superseded, expired, no contact)
  had nothing to deliver and is excluded;
- the event is delivered by its first `sent` row (fallback rows are one delivery, not
  several): on time when `sent_at <= deadline`, i.e. `sent_at - occurred_at <= SLA`;
- never sent: late once `now > deadline` (dead-lettered events included), excluded
  while still within the deadline;
- by-channel figures use the channel that delivered the event (unsent: the first
  channel planned); error rates use each attempt's own channel.

The beat check (`check(now)`, every minute on `maintenance`), all claims safe with two
beat hosts at once:
1. expedite: unsent rows older than SLA_WARN_SECONDS are re-published to notify.expedite
   once (`expedited_at`, claimed with FOR UPDATE SKIP LOCKED);
2. breach: unsent rows past the deadline — pending, retrying (waiting out an outage) or
   dead-lettered — get `breached_at`; the event is claimed in `sla_breaches` (primary
   key) and only the claimer alerts on-call, sends the one delay notice and escalates
   repeat customers (notifications/delay.py). The alert is posted after commit and
   marked `alerted_at`; one that was never marked is posted again by a later check
   (`repost_breach_alerts`), so a crash between the two loses nothing;
3. predict: from the backlog and the measured drain rate, when would the oldest pending
   row breach? Alert if within SLA_PREDICT_HORIZON_SECONDS;
4. heartbeat + gauges. `check_heartbeat()` (outbox sweep, `relay status`) alerts once
   when the check has not run for SLA_HEARTBEAT_STALE_SECONDS.
Every query of the check reads the partial indexes of 0400_sla.sql: its cost grows with
unsent rows, not with the table.

Settings (relay/settings/sla.py; validated when a process starts):
| SLA_WARN_SECONDS | age at which unsent rows are expedited | 3600 |
| SLA_ESCALATE_AFTER | breaches per customer within 24 h that escalate | 3 |
| SLA_PREDICT_HORIZON_SECONDS | alert when a breach is predicted within this | 1800 |
| SLA_DRAIN_WINDOW_SECONDS | window over which the drain rate is measured | 600 |
| SLA_HEARTBEAT_STALE_SECONDS | check silent this long = dead-man alert | 300 |
| SLA_CHECK_BATCH | max rows expedited / breached per run | 1000 |
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from notifications import delay
from relay import alerts, bootstrap, brokerinfo, metrics, outbox
from relay.db import connection, transaction
from relay.logs import get_logger
from relay.names import Queues, Tasks
from relay.status import register_section

log = get_logger(__name__)

TARGET_OTNR = 0.95
TRANSACTIONAL_QUEUE = Queues.TRANSACTIONAL
EXPEDITE_QUEUE = Queues.EXPEDITE
HEARTBEAT = Tasks.SLA_CHECK
# Upper bounds (seconds) of the latency buckets the rollups store; bucket i holds
# bounds[i-1] <= latency < bounds[i], the last one everything from 1 day on.
LATENCY_BOUNDS: tuple[float, ...] = (
    1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 4500, 5400,
    6300, 7200, 9000, 10800, 14400, 21600, 43200, 86400)
# A breach alert not marked posted this long after its last try is posted again.
ALERT_REPOST_AFTER_S = 60.0
# Dead letters older than two SLA windows plus this cannot hold an unbreached row.
DEAD_LETTER_LOOKBACK_S = 86400.0


@dataclass(frozen=True)
class Config:
    sla_s: float
    warn_s: float
    escalate_after: int
    predict_horizon_s: float
    drain_window_s: float
    heartbeat_stale_s: float
    batch: int


def config() -> Config:
    """The SLA group of the settings registry (relay/settings/sla.py), validated at
    start-up with every other variable."""
    from relay.settings import get_settings

    s = get_settings()
    return Config(
        sla_s=float(s.notification_sla_seconds), warn_s=s.sla_warn_seconds,
        escalate_after=s.sla_escalate_after, predict_horizon_s=s.sla_predict_horizon_seconds,
        drain_window_s=s.sla_drain_window_seconds,
        heartbeat_stale_s=s.sla_heartbeat_stale_seconds, batch=s.sla_check_batch)


# -- the math (pure) --------------------------------------------------------------------
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


# -- the check (database) ---------------------------------------------------------------
# The queue's name is written into the statement, not bound: the partial indexes of
# migration 0400 hold only its rows, and PostgreSQL uses them only for a plan that sees
# the value (a bound one is lost once psycopg prepares the statement, in a generic plan).
_OPEN = f"state IN ('pending', 'sending') AND queue = '{TRANSACTIONAL_QUEUE}'"


def check(now: datetime | None = None) -> dict:
    """One run of the beat check (see module doc); returns what it did."""
    now = now or datetime.now(UTC)
    cfg = config()
    done = {"expedited": expedite_due(now, cfg), "breached": breach_due(now, cfg),
            "alerts_reposted": repost_breach_alerts(now, cfg)}
    unsent = unsent_summary(now, cfg)
    predictions = [predict(b, now) for b in read_backlogs(now, cfg)]
    done["predicted"] = alert_predictions(predictions, now, cfg)
    metrics.oldest_unsent_seconds.set(unsent["oldest_unsent_age_s"] or 0)
    for queue in (TRANSACTIONAL_QUEUE, EXPEDITE_QUEUE):
        depth = brokerinfo.queue_depth(queue)
        if depth is not None:
            metrics.queue_depth.labels(queue).set(depth)
    detail = {**done, **unsent, "predictions": [p.as_dict() for p in predictions]}
    beat(now, detail)
    metrics.sla_check_last_run_timestamp.set(now.timestamp())
    log.info("sla.checked", **done, unsent=unsent["unsent"], late=unsent["late"])
    return detail


def expedite_due(now: datetime, cfg: Config) -> int:
    """Re-publish unsent rows past the warn age to notify.expedite, once each."""
    with transaction() as tx:
        rows = tx.execute(
            f"""WITH due AS (
                    SELECT id FROM notifications
                    WHERE {_OPEN} AND expedited_at IS NULL
                      AND occurred_at <= %(cut)s
                      AND (state = 'pending' OR claimed_until < %(now)s)
                    ORDER BY occurred_at LIMIT %(n)s FOR UPDATE SKIP LOCKED)
                UPDATE notifications n SET expedited_at = %(now)s FROM due
                WHERE n.id = due.id RETURNING n.id, n.event_type""",
            {"cut": now - timedelta(seconds=cfg.warn_s), "now": now, "n": cfg.batch},
        ).fetchall()
        for row in rows:
            outbox.wake(tx, row["id"], queue=EXPEDITE_QUEUE)
            metrics.sla_expedited_total.labels(row["event_type"]).inc()
    if rows:
        log.warning("sla.expedited", count=len(rows))
    return len(rows)


# A dead-lettered order update is as unsent as a pending one: it breaches at its
# deadline too. Read through the open/discarded dead letters (index dead_letters_state_
# created), not the failed rows, most of which an earlier fallback channel made good.
_DEAD_UNSENT = f"""
    SELECT n.id FROM dead_letters d JOIN notifications n ON n.id = d.entity_id
    WHERE d.kind = 'notification' AND d.state IN ('open', 'discarded')
      AND d.created_at > %(since)s AND n.state = 'failed'
      AND n.queue = '{TRANSACTIONAL_QUEUE}' AND n.breached_at IS NULL
      AND n.deadline <= %(now)s
    ORDER BY n.deadline LIMIT %(n)s FOR UPDATE OF n SKIP LOCKED"""


def breach_due(now: datetime, cfg: Config) -> int:
    """Mark unsent rows — pending, retrying or dead-lettered — past their deadline; the
    event's first breach claims the alert, the delay notice and the escalation check.

    The alert is an outbox of its own: `sla_breaches.alerted_at` stays NULL until the
    post is done, so a process that dies between this commit and the post leaves it for
    `repost_breach_alerts` (next check) — at least once, one breach row per event."""
    with transaction() as tx:
        rows = tx.execute(
            f"""WITH due AS (
                    SELECT id FROM notifications
                    WHERE {_OPEN} AND breached_at IS NULL AND deadline <= %(now)s
                    ORDER BY deadline LIMIT %(n)s FOR UPDATE SKIP LOCKED),
                dead AS ({_DEAD_UNSENT})
                UPDATE notifications n SET breached_at = %(now)s
                FROM (SELECT id FROM due UNION SELECT id FROM dead) AS unsent
                WHERE n.id = unsent.id RETURNING n.id, n.event_type, n.channel""",
            {"now": now, "n": cfg.batch,
             "since": now - timedelta(seconds=2 * cfg.sla_s + DEAD_LETTER_LOOKBACK_S)},
        ).fetchall()
        claimed = delay.claim_breaches(tx, [r["id"] for r in rows], now)
        outcomes = [delay.after_breach(tx, b, now, cfg) for b in claimed]
    for row in rows:
        metrics.sla_breaches_total.labels(row["event_type"], row["channel"]).inc()
    for breach, outcome in zip(claimed, outcomes, strict=True):
        delay.alert_breach(breach, outcome, cfg)
    if rows:
        log.warning("sla.breached", rows=len(rows), events=len(claimed))
    return len(claimed)


def repost_breach_alerts(now: datetime, cfg: Config) -> int:
    """Post the breach alerts whose first post never happened (the process died after
    recording the breach) or failed (the webhook was down), once they are
    ALERT_REPOST_AFTER_S old — so a post still in progress elsewhere is not doubled."""
    with transaction() as tx:
        rows = tx.execute(
            """UPDATE sla_breaches b SET alert_tried_at = %(now)s
               FROM (SELECT event_id FROM sla_breaches
                     WHERE alerted_at IS NULL
                       AND coalesce(alert_tried_at, breached_at) <= %(cut)s
                     ORDER BY breached_at LIMIT %(n)s FOR UPDATE SKIP LOCKED) AS due
               WHERE b.event_id = due.event_id RETURNING b.*""",
            {"now": now, "cut": now - timedelta(seconds=ALERT_REPOST_AFTER_S),
             "n": cfg.batch}).fetchall()
    for breach in rows:
        log.warning("sla.breach_alert_reposted", event_type=breach["event_type"])
        delay.alert_breach(breach, delay.Outcome(breach["delay_channel"],
                                                 breach["delay_skipped"]), cfg)
    return len(rows)


def unsent_summary(now: datetime, cfg: Config) -> dict:
    with connection() as conn:
        row = conn.execute(
            f"""SELECT count(*) AS unsent,
                       count(*) FILTER (WHERE deadline <= %(now)s) AS late,
                       count(*) FILTER (WHERE occurred_at <= %(cut)s
                                        AND deadline > %(now)s) AS at_risk,
                       min(occurred_at) AS oldest
                FROM notifications WHERE {_OPEN}""",
            {"now": now, "cut": now - timedelta(seconds=cfg.warn_s)}).fetchone()
        conn.commit()
    oldest = row.pop("oldest")
    row["oldest_unsent_age_s"] = round((now - oldest).total_seconds(), 1) if oldest else None
    return dict(row)


def read_backlogs(now: datetime, cfg: Config) -> list[Backlog]:
    """Unsent rows grouped by deadline minute, and sends over the drain window."""
    since = now - timedelta(seconds=cfg.drain_window_s)
    with connection() as conn:
        groups = conn.execute(
            f"""SELECT queue, date_trunc('minute', deadline) AS deadline, count(*) AS n
                FROM notifications WHERE {_OPEN} GROUP BY 1, 2 ORDER BY 1, 2""").fetchall()
        sent = conn.execute(
            """SELECT queue, count(*) AS n FROM notifications
               WHERE sent_at > %s AND sent_at <= %s GROUP BY queue""", (since, now)).fetchall()
        conn.commit()
    rates = {r["queue"]: r["n"] for r in sent}
    by_queue: dict[str, list[tuple[datetime, int]]] = {}
    for g in groups:
        by_queue.setdefault(g["queue"], []).append((g["deadline"], g["n"]))
    return [Backlog(q, d, rates.get(q, 0), cfg.drain_window_s) for q, d in by_queue.items()]


def alert_predictions(predictions: list[Prediction], now: datetime, cfg: Config) -> int:
    """Alert (at most once per 15 min, across checkers) when a breach is predicted soon."""
    soon = [p for p in predictions if p.seconds_to_breach is not None
            and p.seconds_to_breach <= cfg.predict_horizon_s]
    gauge = min((p.seconds_to_breach for p in soon), default=math.inf)
    metrics.sla_predicted_breach_seconds.set(gauge)
    if not soon or not _claim_once("notifications.sla.predicted_alert", now, 900):
        return len(soon)
    for p in soon:
        minutes = p.seconds_to_breach / 60
        alerts.alert(
            "sla.predicted_breach", f"SLA breach predicted on {p.queue}",
            f"{p.pending} unsent, draining {p.drain_per_min}/min: {p.at_risk} will pass "
            f"their deadline, the first in {minutes:.0f} min. Add workers or find the "
            "stuck channel.", "warning",
            {"queue": p.queue, "pending": p.pending, "drain_per_min": p.drain_per_min,
             "at_risk": p.at_risk, "first_breach_at": p.first_breach_at.isoformat()},
            noun="SLA predictions")
    return len(soon)


def _claim_once(name: str, now: datetime, every_s: float) -> bool:
    """True for exactly one caller per `every_s` (a heartbeats row as the claim)."""
    with transaction() as tx:
        row = tx.execute(
            """INSERT INTO heartbeats (name, beat_at) VALUES (%(name)s, %(now)s)
               ON CONFLICT (name) DO UPDATE SET beat_at = excluded.beat_at
               WHERE heartbeats.beat_at <= excluded.beat_at - make_interval(secs => %(s)s)
               RETURNING name""", {"name": name, "now": now, "s": every_s}).fetchone()
    return row is not None


def beat(now: datetime, detail: dict) -> None:
    from psycopg.types.json import Jsonb

    with transaction() as tx:
        tx.execute(
            """INSERT INTO heartbeats (name, beat_at, detail) VALUES (%s, %s, %s)
               ON CONFLICT (name) DO UPDATE SET beat_at = excluded.beat_at,
                                                detail = excluded.detail""",
            (HEARTBEAT, now, Jsonb(_jsonable(detail))))


def _jsonable(doc: dict) -> dict:
    import json

    return json.loads(json.dumps(doc, default=str))


def check_heartbeat(now: datetime | None = None) -> dict:
    """Is the SLA check alive? Alerts once per silence (the first caller to notice)."""
    try:
        return _check_heartbeat(now or datetime.now(UTC))
    except Exception as exc:  # the outbox sweep calls this: never break the sweep
        log.warning("sla.heartbeat_check_failed", error=repr(exc))
        return {"error": repr(exc)}


# Before the check's first run there is no heartbeat to be old: silence is counted from
# this process's start-up instead (module import), so a fresh deployment, or `relay
# status` run before beat's first minute, reads "not yet run", not "stale".
_STARTED_AT = datetime.now(UTC)
_NEVER_RAN_ALERTED = f"{HEARTBEAT}.never_ran_alerted"


def _check_heartbeat(now: datetime) -> dict:
    stale_s = config().heartbeat_stale_s
    with transaction() as tx:
        row = tx.execute("SELECT beat_at FROM heartbeats WHERE name = %s",
                         (HEARTBEAT,)).fetchone()
        if row is None:
            return _never_ran(tx, now, stale_s)
        noticed = None
        if (now - row["beat_at"]).total_seconds() > stale_s:
            noticed = tx.execute(
                """UPDATE heartbeats SET detail = coalesce(detail, '{}'::jsonb)
                          || jsonb_build_object('stale_alerted_at', %s::text)
                   WHERE name = %s AND NOT coalesce(detail, '{}'::jsonb) ? 'stale_alerted_at'
                   RETURNING beat_at""", (now.isoformat(), HEARTBEAT)).fetchone()
    age = round((now - row["beat_at"]).total_seconds(), 1)
    state = {"last_run": row["beat_at"].isoformat(), "age_s": age,
             "stale": age > stale_s, "stale_after_s": stale_s}
    if noticed:
        alerts.alert("sla.heartbeat", "SLA check is not running",
                     f"notifications.sla.check last ran {age:.0f} s ago: nothing expedites "
                     "or reports late notifications. Is celery beat running, and a worker "
                     "on the maintenance queue?", "critical", {"last_run": state["last_run"]})
    return state


def _never_ran(tx, now: datetime, stale_s: float) -> dict:
    """No run recorded yet: stale only once this process has been up longer than
    SLA_HEARTBEAT_STALE_SECONDS; then the first process to notice alerts (once)."""
    waited = max(0.0, round((now - _STARTED_AT).total_seconds(), 1))
    state = {"last_run": None, "age_s": None, "not_yet_run": True,
             "waiting_since_startup_s": waited, "stale": waited > stale_s,
             "stale_after_s": stale_s}
    if not state["stale"]:
        return state
    first = tx.execute("""INSERT INTO heartbeats (name, beat_at) VALUES (%s, %s)
                          ON CONFLICT (name) DO NOTHING RETURNING name""",
                       (_NEVER_RAN_ALERTED, now)).fetchone()
    if first:
        tx.after_commit(lambda: alerts.alert(
            "sla.heartbeat", "SLA check has never run",
            f"notifications.sla.check has not run once in the {waited:.0f} s since this "
            "process started: nothing expedites or reports late notifications. Is celery "
            "beat running, and a worker on the maintenance queue?", "critical",
            {"last_run": None}))
    return state


def status_section() -> dict:
    """`relay status` section `sla`: heartbeat, OTNR 24 h, unsent / late, oldest age."""
    from notifications import reports

    now = datetime.now(UTC)
    cfg = config()
    doc = {"heartbeat": check_heartbeat(now), **unsent_summary(now, cfg)}
    overall = reports.report(now - timedelta(hours=24), now, now)["overall"]
    doc["otnr_24h"] = overall["otnr"]
    doc["events_24h"] = overall["events"]
    doc["target"] = TARGET_OTNR
    with connection() as conn:
        doc["open_escalations"] = conn.execute(
            "SELECT count(*) AS n FROM sla_escalations WHERE resolved_at IS NULL"
        ).fetchone()["n"]
        conn.commit()
    return doc


def annotate_order(doc: dict, now: datetime | None = None) -> dict:
    """Add on-time status to `notifications.ops.order_history()` output, in place:
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


def observe_sent(channel: str, event_type: str, sent_at: datetime, deadline: datetime,
                 occurred_at: datetime | None = None) -> None:
    """Prometheus counters for one accepted send. Call from the send path after commit:
    `sla.observe_sent(channel, row["event_type"], sent_at, row["deadline"])`."""
    occurred = occurred_at or deadline - timedelta(seconds=config().sla_s)
    on_time = "true" if sent_at <= deadline else "false"
    metrics.notifications_sent_total.labels(channel, event_type, on_time).inc()
    metrics.notification_send_latency_seconds.labels(channel, event_type).observe(
        max(0.0, (sent_at - occurred).total_seconds()))


register_section("sla", status_section)


# The outbox sweep runs every few seconds on every deployment: it notices a silent check.
bootstrap.on_sweep(check_heartbeat)
bootstrap.config_check(config)
