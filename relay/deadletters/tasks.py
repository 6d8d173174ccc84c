"""Beat jobs for dead letters and on-call alerts (queue `maintenance`).

To schedule (celeryconfig): add "relay.deadletters.tasks" to `imports`, and beat entries
for "relay.deadletters.purge_expired" (e.g. hourly) and "relay.alerts.flush_due" (every
10-15 s: a storm's summary leaves at most that long after its window closes).
"""

from __future__ import annotations

from relay import alerts, deadletters
from relay.names import Queues, Tasks
from relay.taskbase import relay_task


@relay_task(Tasks.PURGE_DEAD_LETTERS, queue=Queues.MAINTENANCE)
def purge_expired() -> int:
    """Delete resolved dead letters past DEAD_LETTER_RETENTION_DAYS (audited)."""
    return deadletters.purge_expired()


@relay_task(Tasks.FLUSH_ALERTS, queue=Queues.MAINTENANCE)
def flush_alert_summaries() -> int:
    """Send the summary of every closed alert window that suppressed something."""
    return alerts.flush_due()
