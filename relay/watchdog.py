"""The stall watchdog: a queue with no live consumer, or whose due work nobody picks up,
pages on-call — checked by something that does not share the workers' fate.

Why beat runs it, in its own process on a timer thread, and not as a task: the maintenance
worker may be the dead one, and a check queued to a dead worker never runs. Beat is a
process of its own (supervised by scripts/run, restarted by compose). Every
STALL_CHECK_SECONDS it asks the broker which workers consume each queue (Celery's remote
control, `active_queues`: busy workers answer too), reads each queue's oldest due,
unfinished outbox row from PostgreSQL, and stores its view in `queue_watch`, which
`relay status` shows. Every message is an outbox row and Redis messages carry no enqueue
time, so the row's due time measures how long the oldest message has waited — including a
message Redis lost.

A queue is stalled when it has had no live consumer (or the broker could not be asked) for
STALL_ALERT_SECONDS, or its oldest due work has waited that long. One critical alert per
stall, one when it clears; relay/alerts.py rate-limits on top. If beat itself stops, the
view goes stale and `relay status` says so (`watchdog_stale`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from relay import alerts
from relay.db import connection, transaction
from relay.logs import get_logger
from relay.settings import get_settings

log = get_logger(__name__)

INSPECT_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Assessment:
    last_consumer_at: datetime | None
    stalled_since: datetime | None
    reason: str | None

    @property
    def stalled(self) -> bool:
        return self.stalled_since is not None


def assess(row: dict, consumers: int | None, wait_s: float | None, threshold_s: float,
           now: datetime) -> Assessment:
    """Decide one queue's state from its previous row and what was just observed.

    `consumers` None means the broker could not be asked (Redis down counts as no consumer).
    """
    last_consumer_at = now if consumers else row["last_consumer_at"]
    reason = None
    if not consumers:
        alone_s = (now - (last_consumer_at or row["first_seen_at"])).total_seconds()
        if alone_s >= threshold_s:
            what = "the broker could not be reached" if consumers is None \
                else "no live consumer"
            reason = f"{what} for {alone_s:.0f} s"
    if reason is None and wait_s is not None and wait_s >= threshold_s:
        reason = f"the oldest due work has waited {wait_s:.0f} s"
    if reason is None:
        return Assessment(last_consumer_at, None, None)
    return Assessment(last_consumer_at, row["stalled_since"] or now, reason)


def queue_names() -> list[str]:
    from relay.status import queue_names as names

    return names()


def live_consumers(queues: list[str]) -> dict[str, int] | None:
    """Workers consuming each queue, asked over the broker; None if it cannot be asked."""
    from relay.celery_app import app

    try:
        replies = app.control.inspect(timeout=INSPECT_TIMEOUT_S).active_queues() or {}
    except Exception as exc:  # broker down: that is what the watchdog is for
        log.warning("watchdog.inspect_failed", error=exc.__class__.__name__)
        return None
    counts = dict.fromkeys(queues, 0)
    for worker_queues in replies.values():
        for name in {q.get("name") for q in worker_queues or ()}:
            if name in counts:
                counts[name] += 1
    return counts


def oldest_due_waits() -> dict[str, float]:
    with connection() as conn:
        rows = conn.execute(
            """SELECT queue, extract(epoch FROM now() - min(next_attempt_at)) AS wait_s
               FROM outbox WHERE done_at IS NULL AND next_attempt_at <= now()
               GROUP BY queue""").fetchall()
        conn.commit()
    return {r["queue"]: float(r["wait_s"]) for r in rows}


def check(queues: list[str] | None = None) -> dict[str, Assessment]:
    """Observe every queue, record the view, alert on new stalls and recoveries."""
    threshold = get_settings().stall_alert_seconds
    queues = list(queues or queue_names())
    consumers = live_consumers(queues)
    waits = oldest_due_waits()
    result: dict[str, Assessment] = {}
    new_stalls, recovered = [], []
    with transaction() as tx:
        now = tx.execute("SELECT now() AS now").fetchone()["now"]
        tx.execute("INSERT INTO queue_watch (queue) SELECT unnest(%s::text[])"
                   " ON CONFLICT DO NOTHING", (queues,))
        rows = {r["queue"]: r for r in tx.execute(
            "SELECT * FROM queue_watch WHERE queue = ANY(%s) ORDER BY queue FOR UPDATE",
            (queues,))}
        for queue in queues:
            row = rows[queue]
            seen = None if consumers is None else consumers.get(queue, 0)
            state = assess(row, seen, waits.get(queue), threshold, now)
            result[queue] = state
            if state.stalled and row["alerted_at"] is None:
                new_stalls.append(queue)
            if not state.stalled and row["alerted_at"] is not None:
                recovered.append(queue)
            tx.execute(
                """UPDATE queue_watch SET checked_at = %s, consumers = %s,
                          last_consumer_at = %s, oldest_due_wait_s = %s, stalled_since = %s,
                          reason = %s,
                          alerted_at = CASE WHEN %s THEN alerted_at END
                   WHERE queue = %s""",
                (now, seen, state.last_consumer_at, waits.get(queue), state.stalled_since,
                 state.reason, state.stalled, queue))
    for queue in new_stalls:   # after commit: no lock held over HTTP
        _alert_stall(queue, result[queue], consumers, waits.get(queue), threshold)
    for queue in recovered:
        alerts.alert(f"stall.{queue}.recovered", f"Queue {queue} is moving again",
                     "It has a live consumer and no due work waiting too long.",
                     severity="info", fields={"queue": queue})
    return result


def _alert_stall(queue: str, state: Assessment, consumers: dict | None, wait_s: float | None,
                 threshold: float) -> None:
    outcome = alerts.alert(
        f"stall.{queue}", f"Queue {queue} is stalled", f"{state.reason}. Work for this queue "
        "is not being done: check its workers (`relay status`, Flower) and the broker.",
        severity="critical", label=queue, noun="queue stalls",
        fields={"queue": queue,
                "live consumers": "unknown" if consumers is None else consumers.get(queue, 0),
                "oldest due wait (s)": None if wait_s is None else round(wait_s),
                "threshold (s)": threshold})
    if outcome in {"sent", "logged", "suppressed"}:  # a failed post is tried again next check
        with transaction() as tx:
            tx.execute("UPDATE queue_watch SET alerted_at = now()"
                       " WHERE queue = %s AND stalled_since IS NOT NULL", (queue,))


def status_section() -> dict:
    """What `relay status` shows: the watchdog's last view, and whether it is still running."""
    settings = get_settings()
    with connection() as conn:
        rows = conn.execute(
            """SELECT *, extract(epoch FROM now() - checked_at) AS checked_ago_s,
                      extract(epoch FROM now() - coalesce(last_consumer_at, first_seen_at))
                          AS alone_s,
                      extract(epoch FROM now() - stalled_since) AS stalled_for_s
               FROM queue_watch ORDER BY queue""").fetchall()
        conn.commit()
    stale_after = 3 * settings.stall_check_seconds + 10
    newest = min((float(r["checked_ago_s"]) for r in rows), default=None)
    return {
        "threshold_s": settings.stall_alert_seconds,
        "checked_s_ago": None if newest is None else round(newest, 1),
        "watchdog_stale": newest is None or newest > stale_after,
        "stalled_queues": [r["queue"] for r in rows if r["stalled_since"] is not None],
        "queues": {r["queue"]: {
            "consumers": r["consumers"],
            "no_consumer_for_s": None if r["consumers"] else round(float(r["alone_s"]), 1),
            "oldest_due_wait_s": None if r["oldest_due_wait_s"] is None
            else round(r["oldest_due_wait_s"], 1),
            "stalled_for_s": None if r["stalled_for_s"] is None
            else round(float(r["stalled_for_s"]), 1),
            "reason": r["reason"],
        } for r in rows},
    }


def run_forever(stop: threading.Event) -> None:
    """Beat's timer thread: check now, then every STALL_CHECK_SECONDS, until `stop`."""
    interval = get_settings().stall_check_seconds
    while True:
        try:
            check()
        except Exception as exc:  # PostgreSQL down: try again next time, never kill beat
            log.warning("watchdog.check_failed", error=repr(exc))
        if stop.wait(interval):
            return


_thread: threading.Thread | None = None
_stop = threading.Event()


def start_thread() -> threading.Thread:
    """Start the watchdog inside this process (beat calls it once, at start-up)."""
    global _thread
    if _thread is None or not _thread.is_alive():
        _stop.clear()
        _thread = threading.Thread(target=run_forever, args=(_stop,), name="relay-watchdog",
                                   daemon=True)
        _thread.start()
        log.info("watchdog.started", interval_s=get_settings().stall_check_seconds,
                 threshold_s=get_settings().stall_alert_seconds)
    return _thread


def _register() -> None:
    from relay.status import register_section

    register_section("stalls", status_section)


_register()
