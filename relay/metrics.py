"""Prometheus metrics: every metric relay exports is defined here, in one place.

Labels never carry PII: kinds, outcomes, channels, event types, brands and countries
only — never an email, phone, customer or order id.

Each worker process serves /metrics on `METRICS_PORT` (0 = off) once it is ready. relay's
workers use the threads pool, so one process holds every counter; for a prefork worker set
`PROMETHEUS_MULTIPROC_DIR` and the exporter aggregates the children (prometheus-client's
multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)

from relay.logs import get_logger

log = get_logger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
SLA_BUCKETS = (1, 5, 15, 60, 300, 900, 1800, 3600, 5400, 7200, 10800, 21600, 86400)

tasks_total = Counter(
    "relay_tasks_total", "Task executions by task name and outcome", ["task", "outcome"])
outbox_published_total = Counter(
    "relay_outbox_published_total", "Tasks published from the outbox", ["queue", "source"])
homeria_requests_total = Counter(
    "relay_homeria_requests_total", "Calls to Homeria by outcome", ["outcome", "reason"])
homeria_latency_seconds = Histogram(
    "relay_homeria_latency_seconds", "Homeria call latency", buckets=LATENCY_BUCKETS)
email_change_sync_seconds = Histogram(
    "relay_email_change_sync_seconds", "Commit of an email change to Homeria applying it",
    buckets=LATENCY_BUCKETS)
notifications_sent_total = Counter(
    "relay_notifications_sent_total", "Notifications accepted by a provider",
    ["channel", "event_type", "on_time"])
notification_send_latency_seconds = Histogram(
    "relay_notification_send_latency_seconds", "Order event to provider acceptance",
    ["channel", "event_type"], buckets=SLA_BUCKETS)
provider_requests_total = Counter(
    "relay_provider_requests_total", "Channel provider calls by outcome",
    ["channel", "outcome"])
dead_letters_total = Counter(
    "relay_dead_letters_total", "New dead letters", ["kind", "reason"])
sla_breaches_total = Counter(
    "relay_sla_breaches_total", "Notifications that passed their deadline unsent",
    ["event_type", "channel"])
oldest_unsent_seconds = Gauge(
    "relay_oldest_unsent_notification_seconds",
    "Age of the oldest unsent transactional notification (set by the SLA check)")
sla_check_last_run_timestamp = Gauge(
    "relay_sla_check_last_run_timestamp_seconds", "When the SLA check last completed")
sla_expedited_total = Counter(
    "relay_sla_expedited_total", "Unsent notifications re-published to notify.expedite",
    ["event_type"])
sla_delay_notices_total = Counter(
    "relay_sla_delay_notices_total", "Delay notices created for breached events", ["channel"])
sla_escalations_total = Counter(
    "relay_sla_escalations_total", "Customers flagged for follow-up after repeated breaches")
sla_predicted_breach_seconds = Gauge(
    "relay_sla_predicted_breach_seconds",
    "Seconds until the first predicted SLA breach at the current drain rate (+Inf: none)")
sla_otnr_ratio = Gauge(
    "relay_sla_otnr_ratio", "On-time notification rate over a trailing window", ["window"])
queue_depth = Gauge(
    "relay_queue_depth", "Messages waiting in a broker queue (set by the SLA check)", ["queue"])


def start_exporter(port: int) -> bool:
    """Serve /metrics on `port` (0: off). Returns True when serving."""
    if not port:
        return False
    registry = None
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    try:
        if registry is not None:
            start_http_server(port, addr="0.0.0.0", registry=registry)
        else:
            start_http_server(port, addr="0.0.0.0")
    except OSError as exc:
        log.warning("metrics.exporter_failed", port=port, error=repr(exc))
        return False
    log.info("metrics.exporter_started", port=port)
    return True
