"""Maintenance tasks of the runtime itself (queue `maintenance`)."""

from __future__ import annotations

import uuid

from relay import bootstrap, canary, outbox
from relay.brokerinfo import queue_depth
from relay.settings import get_settings
from relay.taskbase import relay_task


@relay_task("relay.outbox.sweep", queue="maintenance")
def sweep_outbox(task) -> int:
    """Publish committed-but-unfinished work whose message may have been lost."""
    settings = get_settings()
    bootstrap.load_features()
    bootstrap.run_sweep_hooks()  # watchdogs, e.g. the SLA check's dead-man heartbeat
    return outbox.sweep(settings.outbox_lease_seconds, queue_depth=queue_depth)


@relay_task("relay.canary.run", queue="maintenance")
def run_canary(task, canary_id: str) -> str:
    """Complete a canary. Published to whichever queue the canary probes."""
    return canary.run(uuid.UUID(canary_id))
