"""Every attempt at external work, recorded for the entity's history (`relay orders show`,
`relay dlq show`, the email change's timeline)."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime

from relay.logs import scrub

_worker: tuple[int, str] = (0, "")


def worker_name() -> str:
    """host:pid of this process, computed after a fork (a prefork child imports this
    module in the parent, so a name computed at import would carry the parent's pid)."""
    global _worker
    if _worker[0] != os.getpid():
        _worker = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}")
    return _worker[1]


def clean_detail(text: str | None) -> str | None:
    """What an attempt's detail column may hold: PII scrubbed, at most 500 characters."""
    return scrub(text)[:500] if text else None


def record(conn, *, kind: str, entity_id: uuid.UUID, started_at: datetime, outcome: str,
           latency_ms: float | None = None, status_code: int | None = None,
           detail: str | None = None, idempotency_key: str | None = None) -> None:
    """`idempotency_key`: the key the request went under, where the peer has one."""
    conn.execute(
        """INSERT INTO attempts (kind, entity_id, started_at, latency_ms, status_code,
                                 outcome, detail, worker, idempotency_key)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (kind, entity_id, started_at, latency_ms, status_code, outcome,
         clean_detail(detail), worker_name(), idempotency_key),
    )


def count(conn, entity_id: uuid.UUID) -> int:
    row = conn.execute("SELECT count(*) AS n FROM attempts WHERE entity_id = %s",
                       (entity_id,)).fetchone()
    return int(row["n"])


def history(conn, entity_id: uuid.UUID) -> list[dict]:
    return conn.execute(
        """SELECT started_at, finished_at, latency_ms, status_code, outcome, detail, worker,
                  idempotency_key
           FROM attempts WHERE entity_id = %s ORDER BY started_at, id""",
        (entity_id,),
    ).fetchall()
