"""Notification tasks: load by id, call the service, nothing else.

Both tasks run the same service function; they differ only in name, so routing by name
keeps promotions on their own queue and workers. The transactional task is queue-agnostic:
the SLA check may re-publish a late row to `notify.expedite` (outbox.wake) and the worker
serving that queue runs it unchanged.
"""

from __future__ import annotations

import uuid

from notifications import service
from notifications.campaigns import sending
from relay.names import Queues, Tasks
from relay.taskbase import relay_task


@relay_task(Tasks.SEND_NOTIFICATION, queue=Queues.TRANSACTIONAL)
def send(notification_id: str) -> str:
    """Send one order notification (or find it already sent)."""
    return service.deliver(uuid.UUID(notification_id))


@relay_task(Tasks.SEND_PROMOTION, queue=Queues.PROMOTIONS)
def send_promotion(notification_id: str) -> str:
    """Send one promotion, after order updates (quiet hours, expiry: the service)."""
    return service.deliver_promotion(uuid.UUID(notification_id))


@relay_task(Tasks.SEND_PROMOTION_BATCH, queue=Queues.PROMOTIONS)
def send_promotions(*notification_ids: str) -> str:
    """Send a batch of a campaign's promotions (one id when a single row is retried)."""
    sending.deliver_batch([uuid.UUID(i) for i in notification_ids])
    return "batch"
