"""The SLA beat check (`check(now)`, every minute on `maintenance`), all claims safe with
two beat hosts at once:

1. expedite: unsent rows older than SLA_WARN_SECONDS are re-published to notify.expedite
   once (`expedited_at`, claimed with FOR UPDATE SKIP LOCKED);
2. breach: unsent rows past the deadline — pending, retrying (waiting out an outage) or
   dead-lettered — get `breached_at`; the event is claimed in `sla_breaches` (primary
   key) and only the claimer alerts on-call, sends the one delay notice and escalates
   repeat customers (delay.py). The alert is posted after commit and marked
   `alerted_at`; one that was never marked is posted again by a later check
   (`repost_breach_alerts`), so a crash between the two loses nothing;
3. predict: from the backlog and the measured drain rate, when would the oldest pending
   row breach? Alert if within SLA_PREDICT_HORIZON_SECONDS;
4. heartbeat + gauges (heartbeat.py notices a check that stopped running).
The queries are in notifications/store/sla.py.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from notifications.sla import delay
from notifications.sla.config import Config, config
from notifications.sla.heartbeat import HEARTBEAT
from notifications.sla.math import Backlog, Prediction, predict
from notifications.store import sla as store
from relay import alerts, brokerinfo, metrics, outbox
from relay.db import transaction
from relay.logs import get_logger
from relay.names import Queues

log = get_logger(__name__)

# A breach alert not marked posted this long after its last try is posted again.
ALERT_REPOST_AFTER_S = 60.0
# Dead letters older than two SLA windows plus this cannot hold an unbreached row.
DEAD_LETTER_LOOKBACK_S = 86400.0


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
    for queue in (Queues.TRANSACTIONAL, Queues.EXPEDITE):
        depth = brokerinfo.queue_depth(queue)
        if depth is not None:
            metrics.queue_depth.labels(queue).set(depth)
    detail = {**done, **unsent, "predictions": [p.as_dict() for p in predictions]}
    store.beat(HEARTBEAT, now, detail)
    metrics.sla_check_last_run_timestamp.set(now.timestamp())
    log.info("sla.checked", **done, unsent=unsent["unsent"], late=unsent["late"])
    return detail


def expedite_due(now: datetime, cfg: Config) -> int:
    """Re-publish unsent rows past the warn age to notify.expedite, once each."""
    with transaction() as tx:
        rows = store.claim_expedite(tx, now, now - timedelta(seconds=cfg.warn_s), cfg.batch)
        for row in rows:
            outbox.wake(tx, row["id"], queue=Queues.EXPEDITE)
            metrics.sla_expedited_total.labels(row["event_type"]).inc()
    if rows:
        log.warning("sla.expedited", count=len(rows))
    return len(rows)


def breach_due(now: datetime, cfg: Config) -> int:
    """Mark unsent rows — pending, retrying or dead-lettered — past their deadline; the
    event's first breach claims the alert, the delay notice and the escalation check.

    The alert is an outbox of its own: `sla_breaches.alerted_at` stays NULL until the
    post is done, so a process that dies between this commit and the post leaves it for
    `repost_breach_alerts` (next check) — at least once, one breach row per event."""
    dead_since = now - timedelta(seconds=2 * cfg.sla_s + DEAD_LETTER_LOOKBACK_S)
    with transaction() as tx:
        rows = store.mark_breached(tx, now, cfg.batch, dead_since)
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
    rows = store.claim_alert_reposts(now, now - timedelta(seconds=ALERT_REPOST_AFTER_S),
                                     cfg.batch)
    for breach in rows:
        log.warning("sla.breach_alert_reposted", event_type=breach["event_type"])
        delay.alert_breach(breach, delay.Outcome(breach["delay_channel"],
                                                 breach["delay_skipped"]), cfg)
    return len(rows)


def unsent_summary(now: datetime, cfg: Config) -> dict:
    row = store.unsent_counts(now, now - timedelta(seconds=cfg.warn_s))
    oldest = row.pop("oldest")
    row["oldest_unsent_age_s"] = round((now - oldest).total_seconds(), 1) if oldest else None
    return dict(row)


def read_backlogs(now: datetime, cfg: Config) -> list[Backlog]:
    """Unsent rows grouped by deadline minute, and sends over the drain window."""
    groups, rates = store.backlog(now - timedelta(seconds=cfg.drain_window_s), now)
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
    if not soon or not store.claim_every("notifications.sla.predicted_alert", now, 900):
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
