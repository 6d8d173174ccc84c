"""Is the SLA check alive? `check_heartbeat()` is asked by the outbox sweep (every few
seconds, on every deployment) and by `relay status`; it alerts once when the check has
not run for SLA_HEARTBEAT_STALE_SECONDS.
"""

from __future__ import annotations

from datetime import UTC, datetime

from notifications.sla.config import config
from notifications.store import sla as store
from relay import alerts
from relay.db import Tx, transaction
from relay.logs import get_logger
from relay.names import Tasks

log = get_logger(__name__)

HEARTBEAT = Tasks.SLA_CHECK


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
        beat_at = store.last_beat(tx, HEARTBEAT)
        if beat_at is None:
            return _never_ran(tx, now, stale_s)
        noticed = ((now - beat_at).total_seconds() > stale_s
                   and store.note_stale_alerted(tx, HEARTBEAT, now))
    age = round((now - beat_at).total_seconds(), 1)
    state = {"last_run": beat_at.isoformat(), "age_s": age,
             "stale": age > stale_s, "stale_after_s": stale_s}
    if noticed:
        alerts.alert("sla.heartbeat", "SLA check is not running",
                     f"{HEARTBEAT} last ran {age:.0f} s ago: nothing expedites "
                     "or reports late notifications. Is celery beat running, and a worker "
                     "on the maintenance queue?", "critical", {"last_run": state["last_run"]})
    return state


def _never_ran(tx: Tx, now: datetime, stale_s: float) -> dict:
    """No run recorded yet: stale only once this process has been up longer than
    SLA_HEARTBEAT_STALE_SECONDS; then the first process to notice alerts (once)."""
    waited = max(0.0, round((now - _STARTED_AT).total_seconds(), 1))
    state = {"last_run": None, "age_s": None, "not_yet_run": True,
             "waiting_since_startup_s": waited, "stale": waited > stale_s,
             "stale_after_s": stale_s}
    if not state["stale"]:
        return state
    if store.claim_once(tx, _NEVER_RAN_ALERTED, now):
        tx.after_commit(lambda: alerts.alert(
            "sla.heartbeat", "SLA check has never run",
            f"{HEARTBEAT} has not run once in the {waited:.0f} s since this "
            "process started: nothing expedites or reports late notifications. Is celery "
            "beat running, and a worker on the maintenance queue?", "critical",
            {"last_run": None}))
    return state

