"""The retention beat job (queue `maintenance`)."""

from __future__ import annotations

from relay.names import Queues, Tasks
from relay.privacy import retention
from relay.taskbase import relay_task


@relay_task(Tasks.RETENTION, queue=Queues.MAINTENANCE)
def run_retention() -> dict:
    """Blank personal data in rows finished more than PII_RETENTION_DAYS ago."""
    return retention.run().as_dict()
