"""Celery settings for relay (lowercase names only), read from relay.settings.

Why these values:
- JSON only: task arguments are row ids, nothing that needs pickle (and pickle from a
  broker is remote code execution).
- acks_late + reject_on_worker_lost + prefetch 1: a message is removed from Redis only
  after the task finished; a worker killed mid-task leaves it to be redelivered, and the
  outbox sweep republishes it after the lease anyway. Tasks are idempotent.
- No result backend: nobody reads results; state lives in PostgreSQL.
- visibility_timeout: far longer than any countdown relay uses (outbox.SHORT_RETRY_MAX_S,
  60 s); longer waits are parked in PostgreSQL, never held in the broker.
"""

import sys

from kombu import Queue

from relay.bootstrap import check_config
from relay.errors import ConfigurationError
from relay.names import Queues, Tasks
from relay.settings import get_settings

try:
    _settings = get_settings()
    check_config()  # every feature's own tunables, too
except ConfigurationError as exc:  # one clear line at start-up, never a traceback
    sys.stderr.write(f"relay: configuration error: {exc}\n")
    raise SystemExit(2) from None


broker_url = _settings.broker
broker_connection_retry_on_startup = True
broker_transport_options = {
    "visibility_timeout": 3 * 3600,
    "socket_timeout": 5,
    "socket_connect_timeout": 5,
    "health_check_interval": 30,
}
if _settings.broker_kind == "sentinel":
    # kombu asks these Sentinels for the master on every (re)connect: after a failover
    # workers and producers reach the promoted replica by themselves (README: Brokers).
    broker_transport_options["master_name"] = _settings.redis_sentinel_master
    broker_transport_options["sentinel_kwargs"] = {"socket_timeout": 2}
if _settings.broker_kind == "amqp":
    # RabbitMQ: quorum queues (replicated, durable). They have no global QoS; Celery sees
    # the x-queue-type argument and uses per-consumer prefetch (worker_detect_quorum_queues,
    # on by default, stated here because relay relies on it). relay publishes no broker
    # countdowns there (outbox.retry_in parks them), so no message waits in a worker's
    # memory. Heartbeats make a worker notice a dead broker connection within seconds.
    # No publisher confirms: one broker round trip per message held a producer to ~135
    # publishes/s here (README: Brokers and failover), and a publish the broker loses is
    # re-sent by the outbox sweep after the lease, as on Redis.
    broker_transport_options = {}
    broker_heartbeat = 10
    worker_detect_quorum_queues = True
broker_pool_limit = 32

task_serializer = "json"
accept_content = ["json"]
event_serializer = "json"
result_backend = None
task_ignore_result = True
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
worker_hijack_root_logger = False
# Task events on, so Flower's task list and counters are real (task arguments are ids: no
# PII reaches it). On the Redis transport a worker with an event loop (threads and prefork
# alike) buffers task events and publishes each loop tick's as ONE `task.multi` message
# (README, Benchmarks: what they cost the sync). No task-sent event: the outbox publishes
# through its own pipeline, and Flower lists a task from its task-received event.
worker_send_task_events = True
task_send_sent_event = False
task_track_started = False
# A task that runs past the lease would be republished by the sweep while still running.
task_soft_time_limit = max(5, _settings.outbox_lease_seconds - 10)
task_time_limit = _settings.outbox_lease_seconds
timezone = "UTC"
enable_utc = True

task_default_queue = Queues.MAINTENANCE
task_create_missing_queues = False
_QUEUE_ARGUMENTS = {"x-queue-type": "quorum"} if _settings.broker_kind == "amqp" else None
task_queues = tuple(Queue(name, routing_key=name, queue_arguments=_QUEUE_ARGUMENTS)
                    for name in Queues.ALL)
task_routes = {
    "sync_worker.*": {"queue": Queues.HOMERIA},
    "notifications.promotions.*": {"queue": Queues.PROMOTIONS},
    "notifications.*": {"queue": Queues.TRANSACTIONAL},
    "relay.*": {"queue": Queues.MAINTENANCE},
}

imports = ("relay.tasks", "relay.deadletters.tasks", "notifications.tasks", "sync_worker.tasks",
           "notifications.sla.tasks", "relay.privacy.tasks")

# Any number of beats may run; one holds the leader lease in PostgreSQL and schedules
# (relay/beatlease.py). A beat on standby takes over within seconds of the leader's loss.
beat_scheduler = "relay.beatlease:LeaderScheduler"

beat_schedule = {
    "outbox-sweep": {
        "task": Tasks.OUTBOX_SWEEP,
        "schedule": _settings.outbox_sweep_seconds,
        # a sweep that waited longer than one interval is superseded by the next one
        "options": {"queue": Queues.MAINTENANCE, "expires": _settings.outbox_sweep_seconds},
    },
    # a storm of alerts sends one summary when its window closes (relay/alerts.py)
    "alerts-flush": {
        "task": Tasks.FLUSH_ALERTS,
        "schedule": _settings.oncall_alert_flush_seconds,
        "options": {"queue": Queues.MAINTENANCE, "expires": _settings.oncall_alert_flush_seconds},
    },
    "dead-letter-retention": {
        "task": Tasks.PURGE_DEAD_LETTERS,
        "schedule": 3600.0,
        "options": {"queue": Queues.MAINTENANCE, "expires": 3600},
    },
    # personal data leaves finished rows after PII_RETENTION_DAYS (relay/privacy/retention.py)
    "pii-retention": {
        "task": Tasks.RETENTION,
        "schedule": 3600.0,
        "options": {"queue": Queues.MAINTENANCE, "expires": 3600},
    },
    # consistency with Homeria, measured on a sample of recent syncs (sync_worker/reconcile.py)
    "homeria-reconcile": {
        "task": Tasks.RECONCILE,
        "schedule": _settings.homeria_reconcile_seconds,
        "kwargs": {"sample": _settings.homeria_reconcile_sample},
        "options": {"queue": Queues.HOMERIA, "expires": _settings.homeria_reconcile_seconds},
    },
    # the 2-hour SLA: expedite, breach, predict, heartbeat (notifications/sla/)
    "sla-check": {
        "task": Tasks.SLA_CHECK,
        "schedule": _settings.sla_check_seconds,
        "options": {"queue": Queues.MAINTENANCE, "expires": _settings.sla_check_seconds},
    },
    "sla-rollup": {
        "task": Tasks.SLA_ROLLUP,
        "schedule": _settings.sla_rollup_seconds,
        "options": {"queue": Queues.MAINTENANCE, "expires": _settings.sla_rollup_seconds},
    },
}
