"""Canaries: a probe that travels the whole path a real change takes.

`send()` commits a canary row and its outbox row, then publishes; a worker on the chosen
queue runs `run()`, which does its (optional) simulated work outside any transaction and
then completes the canary under a row lock — so a redelivered message counts a run but
never a second effect. On-call uses `relay canary` to prove each queue has a live
consumer end to end; the spine's tests use it to prove delivery survives broker loss and
worker death.

`fail=True` raises on purpose, to check that errors reach Sentry (scrubbed).
"""

from __future__ import annotations

import time
import uuid

from relay import deadletters, outbox
from relay.db import connection, transaction
from relay.errors import InvalidInput, NotFound
from relay.logs import get_logger
from relay.names import Tasks

log = get_logger(__name__)

KIND = "canary"
TASK = Tasks.CANARY
MAX_WORK_MS = 30_000


class CanaryFailure(RuntimeError):
    """Raised on purpose by a canary sent with fail=True."""


def send(queue: str, *, work_ms: int = 0, note: str | None = None, fail: bool = False,
         queues: tuple[str, ...] | None = None) -> uuid.UUID:
    if queues is not None and queue not in queues:
        raise InvalidInput("queue", f"unknown queue {queue!r}; known: {', '.join(queues)}")
    if not 0 <= work_ms <= MAX_WORK_MS:
        raise InvalidInput("work_ms", f"must be between 0 and {MAX_WORK_MS}")
    canary_id = uuid.uuid4()
    with transaction() as tx:
        tx.execute(
            "INSERT INTO canaries (id, queue, note, work_ms, fail) VALUES (%s, %s, %s, %s, %s)",
            (canary_id, queue, note, work_ms, fail),
        )
        outbox.add(tx, KIND, canary_id, TASK, queue)
    return canary_id


def run(canary_id: uuid.UUID) -> str:
    """Process one delivery of a canary. Returns 'done', 'duplicate' or raises."""
    with connection() as conn:
        row = conn.execute(
            "UPDATE canaries SET runs = runs + 1 WHERE id = %s RETURNING work_ms, fail, note,"
            " done_at", (canary_id,),
        ).fetchone()
        conn.commit()
    if row is None:
        log.warning("canary.unknown", canary_id=str(canary_id))
        return "unknown"
    if row["done_at"] is not None:
        return "duplicate"
    if row["fail"]:
        raise CanaryFailure(f"canary {canary_id} failed on purpose: {row['note'] or ''}")
    if row["work_ms"]:
        time.sleep(row["work_ms"] / 1000)  # stands for a provider call: no transaction open
    with transaction() as tx:
        locked = tx.execute(
            "SELECT done_at FROM canaries WHERE id = %s FOR UPDATE", (canary_id,)
        ).fetchone()
        if locked["done_at"] is not None:
            return "duplicate"
        tx.execute(
            "UPDATE canaries SET effects = effects + 1, done_at = clock_timestamp()"
            " WHERE id = %s", (canary_id,),
        )
        outbox.complete(tx, canary_id)
    return "done"


def get(canary_id: uuid.UUID) -> dict:
    with connection() as conn:
        row = conn.execute(
            """SELECT *, extract(epoch FROM done_at - created_at) * 1000 AS round_trip_ms
               FROM canaries WHERE id = %s""", (canary_id,),
        ).fetchone()
        conn.commit()
    if row is None:
        raise NotFound(f"no canary {canary_id}")
    return row


def _replay(tx, canary_id: uuid.UUID) -> None:
    """Dead-letter replayer: the canary is pending again and goes back through the outbox."""
    tx.execute("UPDATE canaries SET done_at = NULL WHERE id = %s", (canary_id,))
    if not outbox.reopen(tx, canary_id):
        raise NotFound(f"canary {canary_id} has no outbox row to reopen")


deadletters.register_replayer(KIND, _replay)
