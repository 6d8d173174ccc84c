"""Maintenance tasks of the runtime itself (queue `maintenance`)."""

from __future__ import annotations

import uuid

from relay import bootstrap, canary, outbox
from relay.brokerinfo import queue_depth
from relay.names import Queues, Tasks
from relay.settings import get_settings
from relay.taskbase import relay_task


@relay_task(Tasks.OUTBOX_SWEEP, queue=Queues.MAINTENANCE)
def sweep_outbox() -> int:
    """Publish committed-but-unfinished work whose message may have been lost."""
    settings = get_settings()
    bootstrap.load_features()
    bootstrap.run_sweep_hooks()  # watchdogs, e.g. the SLA check's dead-man heartbeat
    return outbox.sweep(settings.outbox_lease_seconds, queue_depth=queue_depth)


@relay_task(Tasks.CANARY, queue=Queues.MAINTENANCE)
def run_canary(canary_id: str) -> str:
    """Complete a canary. Published to whichever queue the canary probes."""
    return canary.run(uuid.UUID(canary_id))
