"""Celery tasks of the email sync (queue `homeria`). Thin: parse the id, call the service.

The service persists every outcome itself (synced, retry scheduled in the outbox, dead
letter), so nothing here retries through Celery: a crash mid-task leaves the outbox row
unfinished and the sweep publishes it again after the lease.
"""

from __future__ import annotations

import uuid

from relay.logs import get_logger
from relay.names import Queues, Tasks
from relay.taskbase import relay_task
from sync_worker import profile_service, service
from sync_worker import reconcile as reconciliation

log = get_logger(__name__)

_QUIET = {"busy", "finished", "waiting", "stale", "early"}


@relay_task(Tasks.DELIVER_EMAIL_CHANGE, queue=Queues.HOMERIA)
def deliver_email_change(change_id: str) -> str:
    """Send one email change (or the batch it heads) to Homeria."""
    return _logged("email_change", change_id, service.deliver(uuid.UUID(change_id)))


@relay_task(Tasks.DELIVER_PROFILE_CHANGE, queue=Queues.HOMERIA)
def deliver_profile_change(change_id: str) -> str:
    """Send one profile change (or the merged run it heads) to Homeria."""
    return _logged("profile_change", change_id, profile_service.deliver(uuid.UUID(change_id)))


def _logged(kind: str, change_id: str, result: str) -> str:
    (log.debug if result in _QUIET else log.info)(
        f"{kind}.delivery", change_id=change_id, result=result)
    return result


@relay_task(Tasks.RECONCILE, queue=Queues.HOMERIA)
def reconcile(sample: int = reconciliation.DEFAULT_SAMPLE) -> dict:
    """Beat: check a sample of recently synced changes against Homeria."""
    return reconciliation.reconcile(sample=sample)
