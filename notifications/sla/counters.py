"""Prometheus counters of each accepted send: on time or late, and its latency."""

from __future__ import annotations

from datetime import datetime, timedelta

from notifications.sla.config import config
from relay import metrics


def observe_sent(channel: str, event_type: str, sent_at: datetime, deadline: datetime,
                 occurred_at: datetime | None = None) -> None:
    """Prometheus counters for one accepted send. Call from the send path after commit:
    `counters.observe_sent(channel, row["event_type"], sent_at, row["deadline"])`."""
    occurred = occurred_at or deadline - timedelta(seconds=config().sla_s)
    on_time = "true" if sent_at <= deadline else "false"
    metrics.notifications_sent_total.labels(channel, event_type, on_time).inc()
    metrics.notification_send_latency_seconds.labels(channel, event_type).observe(
        max(0.0, (sent_at - occurred).total_seconds()))

