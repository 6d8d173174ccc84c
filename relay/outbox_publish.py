"""Publishing outbox work to the broker: the messages carry only entity ids.

Publishing happens after the row's transaction has committed (`relay.outbox`), so a
failure here loses nothing: the rows are marked unpublished and the next sweep
(`relay.outbox_sweep`) sends them again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from relay import brokerinfo
from relay.db import connection
from relay.logs import get_logger
from relay.metrics import outbox_published_total

log = get_logger(__name__)

# Tasks that take many entity ids per message (`task(*ids)`), with how many ids a message
# carries: publishing groups their rows, so one message, one claim statement and one
# outcome statement serve a whole batch (campaign promotions). Filled by the packages that
# own such tasks (`batched_task`); a row published alone (a retry) is a batch of one.
BATCHED_TASKS: dict[str, int] = {}


def batched_task(task: str, size: int) -> None:
    BATCHED_TASKS[task] = max(1, int(size))


@dataclass(frozen=True)
class Publication:
    entity_id: uuid.UUID
    task: str
    queue: str
    countdown: float | None = None


def publish_now(pubs: list[Publication], source: str = "producer") -> int:
    """Send tasks to the broker. On failure, mark the rows unpublished so the next sweep
    sends them at once instead of waiting out the lease. Returns how many were sent.

    Due-now work (nearly all of it) goes through `_publish_pipelined`, one message or
    thousands; only countdowns go through kombu's own publish."""
    immediate = [p for p in pubs if not p.countdown]
    delayed = [p for p in pubs if p.countdown]
    if not brokerinfo.is_redis():  # RabbitMQ: no list to push to; kombu publishes each
        return _publish_each(pubs, source)
    sent = _publish_pipelined(immediate, source) if immediate else 0
    return sent + (_publish_each(delayed, source) if delayed else 0)


def _publish_each(pubs: list[Publication], source: str) -> int:
    from relay.celery_app import app  # imported late: the app reads settings

    sent = 0
    try:
        with app.producer_or_acquire() as producer:
            for pub in pubs:
                app.send_task(
                    pub.task, args=[str(pub.entity_id)], queue=pub.queue,
                    countdown=pub.countdown, producer=producer,
                )
                sent += 1
                outbox_published_total.labels(pub.queue, source).inc()
    except Exception as exc:
        log.warning("outbox.publish_failed", count=len(pubs) - sent, error=repr(exc))
        _unmark([p.entity_id for p in pubs[sent:]])
    return sent


def _publish_pipelined(pubs: list[Publication], source: str) -> int:
    """The same messages kombu would write, pushed in one Redis pipeline.

    kombu publishes one message per round trip and builds a Redis client per publish
    (about half a millisecond of CPU each, measured: a third of a producer's cost for one
    email change); bulk intake (thousands of events a second) needs better still. Celery's own
    `create_task_message` builds each message, kombu's serializer encodes the body, and
    the envelope is the one kombu's Redis transport writes (`brokerinfo.kombu_envelope`),
    LPUSHed to the queue's list exactly as kombu does. If the pipeline fails part-way,
    every row is unmarked: the sweep re-sends, and tasks are idempotent.
    """
    from relay.celery_app import app

    groups: dict[tuple[str, str], list[Publication]] = {}
    for pub in pubs:
        groups.setdefault((pub.task, pub.queue), []).append(pub)
    try:
        pipe = brokerinfo.client().pipeline(transaction=False)
        for (task, queue), group in groups.items():
            ids = [str(p.entity_id) for p in group]
            size = BATCHED_TASKS.get(task, 1)
            envelopes = brokerinfo.kombu_envelopes(
                app, task, [ids[i:i + size] for i in range(0, len(ids), size)], queue)
            for chunk in range(0, len(envelopes), 1000):
                pipe.lpush(queue, *envelopes[chunk:chunk + 1000])
        pipe.execute()
    except Exception as exc:
        log.warning("outbox.publish_failed", count=len(pubs), error=repr(exc))
        _unmark([p.entity_id for p in pubs])
        return 0
    for (_, queue), group in groups.items():
        outbox_published_total.labels(queue, source).inc(len(group))
    return len(pubs)


def _unmark(entity_ids: list[uuid.UUID]) -> None:
    try:
        with connection() as conn:
            conn.execute(
                """UPDATE outbox SET published_at = NULL
                   WHERE entity_id = ANY(%s) AND done_at IS NULL""",
                (entity_ids,),
            )
            conn.commit()
    except Exception as exc:  # the lease will bring them back anyway
        log.warning("outbox.unmark_failed", error=repr(exc))
