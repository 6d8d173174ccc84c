"""Email sync to Homeria: `enqueue_email_change` is the producer API (contracts/relay.md)."""

from sync_worker.models import Receipt
from sync_worker.producer import enqueue_email_change

__all__ = ["Receipt", "enqueue_email_change"]
