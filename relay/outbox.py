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

Here: the row's transitions, inside the caller's transaction. Publishing to the broker is
`relay/outbox_publish.py`, the sweep and the backlog `relay/outbox_sweep.py`; the two that
other SQL needs too (complete, wake) are functions in `relay/sql/outbox.sql`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from relay import brokerinfo
from relay.db import Tx, copy_rows
from relay.outbox_publish import BATCHED_TASKS, Publication, batched_task, publish_now
from relay.outbox_sweep import BACKLOGGED_LEASE_FACTOR, backlog, sweep

# Publishing and the sweep live in their own modules; their names are re-exported here,
# where every caller looks for the outbox. Calls below go through these module globals,
# so a benchmark that wraps `outbox.publish_now` times every publish.

SHORT_RETRY_MAX_S = 60.0
FAR_FUTURE = "infinity"

__all__ = ["BACKLOGGED_LEASE_FACTOR", "BATCHED_TASKS", "FAR_FUTURE", "SHORT_RETRY_MAX_S",
           "Publication", "add", "add_many", "backlog", "batched_task", "complete", "get",
           "park_until", "publish_after_commit", "publish_now", "reopen", "retry_in",
           "schedule", "sweep", "wake"]


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
    """Publish work that SQL made due (`outbox_wake`, relay/sql/outbox.sql) once `tx`
    commits."""
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
