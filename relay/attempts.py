"""Every attempt at external work, recorded for the entity's history (`relay orders show`,
`relay dlq show`, the email change's timeline)."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime

from relay.logs import scrub

_WORKER = f"{socket.gethostname()}:{os.getpid()}"


def record(conn, *, kind: str, entity_id: uuid.UUID, started_at: datetime, outcome: str,
           latency_ms: float | None = None, status_code: int | None = None,
           detail: str | None = None) -> None:
    conn.execute(
        """INSERT INTO attempts (kind, entity_id, started_at, latency_ms, status_code,
                                 outcome, detail, worker)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (kind, entity_id, started_at, latency_ms, status_code, outcome,
         scrub(detail)[:500] if detail else None, _WORKER),
    )


def count(conn, entity_id: uuid.UUID) -> int:
    row = conn.execute("SELECT count(*) AS n FROM attempts WHERE entity_id = %s",
                       (entity_id,)).fetchone()
    return int(row["n"])


def history(conn, entity_id: uuid.UUID) -> list[dict]:
    return conn.execute(
        """SELECT started_at, finished_at, latency_ms, status_code, outcome, detail, worker
           FROM attempts WHERE entity_id = %s ORDER BY started_at, id""",
        (entity_id,),
    ).fetchall()
