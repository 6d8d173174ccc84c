"""The transactional outbox: work is a row first, a broker message second.

A producer calls `add()` inside its transaction; once the transaction commits, the task
is published carrying only the entity id. If Redis was down or later loses the message,
`sweep()` (on the beat) publishes again any row that is due, unfinished, and whose last
publish is older than the lease. Rows are claimed with FOR UPDATE SKIP LOCKED and stamped
`published_at` in the same statement, so two sweepers never publish one row twice within
a lease.

Retries: `retry_in()` uses a broker countdown only for short waits (<= SHORT_RETRY_MAX_S).
Longer waits are *parked* in the row (`next_attempt_at`) and the sweep publishes them when
due. On Redis a long countdown is dangerous: an unacked message is redelivered after the
visibility timeout, so an ETA beyond it runs twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from relay import brokerinfo
from relay.db import Tx, connection, copy_rows, transaction
from relay.logs import get_logger
from relay.metrics import outbox_published_total

log = get_logger(__name__)

SHORT_RETRY_MAX_S = 60.0
# While a queue still holds messages, stale-looking rows are most likely just waiting their
# turn behind a backlog (a promotion burst), not lost: re-publishing them would only add
# duplicates. Such rows are re-published only once they are this many leases old.
BACKLOGGED_LEASE_FACTOR = 10
FAR_FUTURE = "infinity"


@dataclass(frozen=True)
class Publication:
    entity_id: uuid.UUID
    task: str
    queue: str
    countdown: float | None = None


def add(tx: Tx, kind: str, entity_id: uuid.UUID, task: str, queue: str,
        *, publish: bool = True) -> None:
    """Record work for `entity_id` and publish it after commit.

    With publish=False the row waits (parked) until someone calls `wake()` — e.g. a
    later email change waiting for the one in flight for the same customer.
    """
    if publish:
        tx.execute(
            """INSERT INTO outbox (entity_id, kind, task, queue, published_at, publish_count)
               VALUES (%s, %s, %s, %s, now(), 1)""",
            (entity_id, kind, task, queue),
        )
        tx.after_commit(lambda: publish_now([Publication(entity_id, task, queue)]))
    else:
        tx.execute(
            """INSERT INTO outbox (entity_id, kind, task, queue, next_attempt_at, parked_reason)
               VALUES (%s, %s, %s, %s, %s, 'waiting')""",
            (entity_id, kind, task, queue, FAR_FUTURE),
        )


def add_many(tx: Tx, kind: str, rows: Iterable[tuple[uuid.UUID, str, str]]) -> None:
    """Bulk form of add(): one COPY, one pipelined publish after commit."""
    pubs = [Publication(eid, task, queue) for eid, task, queue in rows]
    if not pubs:
        return
    now = tx.execute("SELECT now() AS now").fetchone()["now"]
    copy_rows(tx, "outbox", _ADD_MANY_COLUMNS,
              ((p.entity_id, kind, p.task, p.queue, now, 1) for p in pubs))
    tx.after_commit(lambda: publish_now(pubs))


_ADD_MANY_COLUMNS = (("entity_id", "uuid"), ("kind", "text"), ("task", "text"),
                     ("queue", "text"), ("published_at", "timestamptz"),
                     ("publish_count", "int4"))


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
            envelopes = brokerinfo.kombu_envelopes(app, task, [[str(p.entity_id)]
                                                               for p in group], queue)
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


def get(conn, entity_id: uuid.UUID, *, lock: bool = False) -> dict | None:
    sql = "SELECT * FROM outbox WHERE entity_id = %s"
    if lock:
        sql += " FOR UPDATE"
    return conn.execute(sql, (entity_id,)).fetchone()


def complete(tx: Tx, entity_id: uuid.UUID) -> None:
    tx.execute("SELECT outbox_complete(%s)", (entity_id,))


def retry_in(tx: Tx, entity_id: uuid.UUID, delay_s: float, reason: str = "retry") -> str:
    """Schedule the next attempt. Returns 'countdown' or 'parked' (for logs and tests)."""
    delay_s = max(0.0, float(delay_s))
    if delay_s and not brokerinfo.is_redis():
        # RabbitMQ quorum queues: Celery's ETA handling needs global QoS, which quorum
        # queues lack, and its native delayed delivery needs topic exchanges. Every wait
        # is parked in the row instead; the sweep publishes it when due (README: Brokers).
        park_until(tx, entity_id, delay_s, reason)
        return "parked"
    if delay_s <= SHORT_RETRY_MAX_S:
        row = tx.execute(
            """UPDATE outbox SET next_attempt_at = now() + make_interval(secs => %s),
                      published_at = now() + make_interval(secs => %s),
                      publish_count = publish_count + 1, parked_reason = %s
               WHERE entity_id = %s AND done_at IS NULL RETURNING task, queue""",
            (delay_s, delay_s, reason, entity_id),
        ).fetchone()
        if row:
            pub = Publication(entity_id, row["task"], row["queue"], countdown=delay_s or None)
            tx.after_commit(lambda: publish_now([pub]))
        return "countdown"
    park_until(tx, entity_id, delay_s, reason)
    return "parked"


def park_until(tx: Tx, entity_id: uuid.UUID, delay_s: float | None, reason: str) -> None:
    """Leave the work in the row; the sweep publishes it when due (None: until woken)."""
    if delay_s is None:
        tx.execute(
            """UPDATE outbox SET next_attempt_at = 'infinity', published_at = NULL,
                      parked_reason = %s WHERE entity_id = %s AND done_at IS NULL""",
            (reason, entity_id),
        )
    else:
        tx.execute(
            """UPDATE outbox SET next_attempt_at = now() + make_interval(secs => %s),
                      published_at = NULL, parked_reason = %s
               WHERE entity_id = %s AND done_at IS NULL""",
            (delay_s, reason, entity_id),
        )


def wake(tx: Tx, entity_id: uuid.UUID, queue: str | None = None) -> None:
    """Make parked work due now and publish it after commit (optionally to another queue)."""
    row = tx.execute("SELECT * FROM outbox_wake(%s, %s)", (entity_id, queue)).fetchone()
    if row:
        publish_after_commit(tx, entity_id, row["task"], row["queue"])


def publish_after_commit(tx: Tx, entity_id: uuid.UUID, task: str, queue: str) -> None:
    """Publish work that SQL made due (`outbox_wake`, migration 0003) once `tx` commits."""
    pub = Publication(entity_id, task, queue)
    tx.after_commit(lambda: publish_now([pub]))


def schedule(tx: Tx, kind: str, entity_id: uuid.UUID, task: str, queue: str,
             delay_s: float = 0.0, reason: str = "retry") -> str:
    """Make work due in `delay_s`, whether or not it had an outbox row before (a row that
    finished earlier is reopened): `retry_in` decides countdown (<= SHORT_RETRY_MAX_S) or
    parked. For work that comes back after it was done — a notification channel tried
    again in a later round."""
    tx.execute(
        """INSERT INTO outbox (entity_id, kind, task, queue) VALUES (%s, %s, %s, %s)
           ON CONFLICT (entity_id) DO UPDATE SET done_at = NULL, task = excluded.task,
                  queue = excluded.queue, next_attempt_at = now(), published_at = NULL,
                  parked_reason = NULL""",
        (entity_id, kind, task, queue))
    return retry_in(tx, entity_id, delay_s, reason)


def reopen(tx: Tx, entity_id: uuid.UUID) -> bool:
    """Put finished work back on the normal path (dead-letter replay)."""
    row = tx.execute(
        """UPDATE outbox SET done_at = NULL, next_attempt_at = now(), published_at = now(),
                  publish_count = publish_count + 1, parked_reason = NULL
           WHERE entity_id = %s RETURNING task, queue""",
        (entity_id,),
    ).fetchone()
    if row:
        pub = Publication(entity_id, row["task"], row["queue"])
        tx.after_commit(lambda: publish_now([pub]))
    return row is not None


_CLAIM_SQL = """
WITH due AS (
    SELECT entity_id FROM outbox
    WHERE done_at IS NULL AND queue = %(queue)s AND next_attempt_at <= now()
      AND (published_at IS NULL OR published_at < now() - make_interval(secs => %(lease)s))
    ORDER BY next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE outbox o SET published_at = now(), publish_count = o.publish_count + 1
FROM due WHERE o.entity_id = due.entity_id
RETURNING o.entity_id, o.task, o.queue, o.publish_count
"""


def sweep(lease_s: float, limit: int = 2000, queue_depth=None) -> int:
    """Claim and publish due, unfinished, stale rows; return how many were published.

    `queue_depth(queue) -> int | None` tells how many messages wait in a broker queue;
    a backlogged queue gets a longer lease (see BACKLOGGED_LEASE_FACTOR).
    """
    with connection() as conn:
        queues = [r["queue"] for r in conn.execute(
            "SELECT DISTINCT queue FROM outbox WHERE done_at IS NULL AND next_attempt_at <= now()"
        )]
        conn.commit()
    total = 0
    for queue in queues:
        depth = queue_depth(queue) if queue_depth else None
        lease = lease_s * (BACKLOGGED_LEASE_FACTOR if depth else 1)
        with transaction() as tx:
            rows = tx.execute(
                _CLAIM_SQL, {"queue": queue, "lease": lease, "limit": limit - total}
            ).fetchall()
        if rows:
            pubs = [Publication(r["entity_id"], r["task"], r["queue"]) for r in rows]
            total += publish_now(pubs, source="sweep")
            log.info("outbox.swept", queue=queue, published=len(pubs), queue_depth=depth,
                     republished=sum(1 for r in rows if r["publish_count"] > 2))
        if total >= limit:
            break
    return total


def backlog() -> dict:
    """Unfinished work by kind: due, in flight (published within the lease), parked."""
    with connection() as conn:
        rows = conn.execute(
            """SELECT kind,
                      count(*) FILTER (WHERE next_attempt_at <= now() AND published_at IS NULL)
                          AS due_unpublished,
                      count(*) FILTER (WHERE published_at IS NOT NULL) AS in_flight,
                      count(*) FILTER (WHERE next_attempt_at > now()) AS parked,
                      extract(epoch FROM now() - min(created_at)) AS oldest_pending_age_s
               FROM outbox WHERE done_at IS NULL GROUP BY kind ORDER BY kind"""
        ).fetchall()
        conn.commit()
    return {r["kind"]: {
        "due_unpublished": r["due_unpublished"], "in_flight": r["in_flight"],
        "parked": r["parked"],
        "oldest_pending_age_s": round(float(r["oldest_pending_age_s"]), 1),
    } for r in rows}
