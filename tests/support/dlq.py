"""Dead letters to work on: canaries (a real, replayable kind) that gave up."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from relay import attempts, canary, deadletters
from relay.db import transaction


def insert_dead_canaries(n: int, **dead) -> list[tuple[uuid.UUID, int]]:
    """n canaries that 'gave up': canary pending, outbox row done, dead letter open."""
    ids = [uuid.uuid4() for _ in range(n)]
    out = []
    with transaction() as tx:
        with tx.conn.cursor() as cur:
            cur.executemany("INSERT INTO canaries (id, queue) VALUES (%s, 'maintenance')",
                            [(i,) for i in ids])
            cur.executemany(
                """INSERT INTO outbox (entity_id, kind, task, queue, done_at)
                   VALUES (%s, %s, %s, 'maintenance', now())""",
                [(i, canary.KIND, canary.TASK) for i in ids])
        for i in ids:
            attempts.record(tx.conn, kind=canary.KIND, entity_id=i,
                            started_at=datetime.now(UTC), outcome="failed", status_code=500,
                            detail=dead.get("error"))
            out.append((i, deadletters.record(tx, kind=canary.KIND, entity_id=i, **{
                "reason": "max_attempts", "attempts": 1, **dead})))
    return out
