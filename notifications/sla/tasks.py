"""Beat tasks of the SLA (queue `maintenance`): thin wrappers over check.py and
reports.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notifications.sla import check as sla_check
from notifications.sla import reports
from relay import metrics
from relay.names import Queues, Tasks
from relay.taskbase import relay_task


@relay_task(Tasks.SLA_CHECK, queue=Queues.MAINTENANCE)
def check() -> str:
    """Expedite, breach, predict, heartbeat: every minute."""
    done = sla_check.check()
    return "breached" if done["breached"] else "ok"


@relay_task(Tasks.SLA_ROLLUP, queue=Queues.MAINTENANCE)
def rollup() -> int:
    """Roll closed days into sla_daily; refresh the OTNR gauge (every 10 minutes)."""
    now = datetime.now(UTC)
    days = reports.rollup_due(now)
    otnr = reports.report(now - timedelta(hours=24), now, now)["overall"]["otnr"]
    if otnr is not None:
        metrics.sla_otnr_ratio.labels("24h").set(otnr)
    return len(days)
