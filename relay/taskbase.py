"""The house task decorator.

    @relay_task(Tasks.DELIVER_EMAIL_CHANGE, queue=Queues.HOMERIA)
    def deliver_email_change(change_id: str) -> str: ...

Why a decorator of our own (Sentry's `instrumented_task`, Warehouse's `tasks.task`):
- explicit, stable names: renaming a module must not orphan messages already in Redis;
- the queue is declared next to the task, not only in routing tables;
- acks_late + reject_on_worker_lost (redelivery if a worker dies), ignore_result (no
  backend), JSON arguments only;
- every log line inside the task carries `task_id` and `task`.
Tasks stay thin: load by id, call one service function, act on its outcome.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from relay.celery_app import app
from relay.logs import bind
from relay.metrics import tasks_total


def relay_task(name: str, *, queue: str, **options) -> Callable:
    if "." not in name:
        raise ValueError("task names are dotted and stable, e.g. 'sync_worker.deliver'")

    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(self, *args, **kwargs):
            with bind(task_id=self.request.id, task=name):
                try:
                    result = fn(*args, **kwargs)
                except Exception:
                    tasks_total.labels(name, "error").inc()
                    raise
                tasks_total.labels(name, result if isinstance(result, str) else "ok").inc()
                return result

        return app.task(
            bind=True, name=name, queue=queue, acks_late=True, ignore_result=True,
            reject_on_worker_lost=True, serializer="json", **options,
        )(run)

    return decorator
