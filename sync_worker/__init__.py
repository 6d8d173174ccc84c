"""Email and profile sync to Homeria: `enqueue_email_change` and `enqueue_profile_change`
are the producer APIs (docs/contracts/relay.md)."""

from sync_worker.models import Receipt
from sync_worker.producer import enqueue_email_change
from sync_worker.profile_producer import enqueue_profile_change

__all__ = ["Receipt", "enqueue_email_change", "enqueue_profile_change"]
