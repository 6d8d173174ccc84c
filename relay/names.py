"""Every queue and task name relay uses, in one place.

These names are public (`docs/contracts/relay.md`: queues, task names in Flower and in the
outbox rows), so they are written here once and imported everywhere else. SQL never spells
them: queries and functions receive them as parameters.
"""

from __future__ import annotations

from typing import Final


class Queues:
    """Broker queues. Workers subscribe by these names (`scripts/run`, compose)."""

    HOMERIA: Final = "homeria"
    TRANSACTIONAL: Final = "notify.transactional"
    # Late transactional work jumps the line here (the SLA check and the round backoff).
    EXPEDITE: Final = "notify.expedite"
    PROMOTIONS: Final = "notify.promotions"
    MAINTENANCE: Final = "maintenance"

    ALL: Final = (HOMERIA, TRANSACTIONAL, EXPEDITE, PROMOTIONS, MAINTENANCE)


class Tasks:
    """Celery task names: dotted, stable, routed by prefix (celeryconfig.task_routes)."""

    # email sync
    DELIVER_EMAIL_CHANGE: Final = "sync_worker.deliver_email_change"
    DELIVER_PROFILE_CHANGE: Final = "sync_worker.deliver_profile_change"
    RECONCILE: Final = "sync_worker.reconcile"
    # notifications
    SEND_NOTIFICATION: Final = "notifications.send"
    SEND_PROMOTION: Final = "notifications.promotions.send"
    SEND_PROMOTION_BATCH: Final = "notifications.promotions.send_batch"
    SLA_CHECK: Final = "notifications.sla.check"
    SLA_ROLLUP: Final = "notifications.sla.rollup"
    # the runtime
    OUTBOX_SWEEP: Final = "relay.outbox.sweep"
    CANARY: Final = "relay.canary.run"
    FLUSH_ALERTS: Final = "relay.alerts.flush_due"
    PURGE_DEAD_LETTERS: Final = "relay.deadletters.purge_expired"
    RETENTION: Final = "relay.privacy.retention"
