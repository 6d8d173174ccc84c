"""Dead canaries (a real, replayable kind) and the on-call webhook stand-in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from relay import attempts, canary, deadletters, outbox
from relay.db import connection, transaction
from relay.settings import reset_settings_cache
from standins.webhook import serve


def _insert_dead_canaries(n: int, **dead) -> list[tuple[uuid.UUID, int]]:
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


@pytest.fixture
def dead_canaries(db):
    """dead_canaries(n=1, reason=..., error=..., brand=..., ...) -> [(canary_id, dl_id)]."""
    def make(n: int = 1, **dead):
        return _insert_dead_canaries(n, **dead)
    return make


@pytest.fixture
def dead_canary(dead_canaries):
    def make(**dead):
        return dead_canaries(1, **dead)[0]
    return make


@pytest.fixture
def webhook(db, monkeypatch):
    """The Slack-compatible stand-in as ONCALL_WEBHOOK_URL, with a 2 s alert window."""
    with serve() as hook:
        monkeypatch.setenv("ONCALL_WEBHOOK_URL", f"{hook.url}/services/T000/B000/secret")
        monkeypatch.setenv("ONCALL_ALERT_WINDOW_SECONDS", "2")
        reset_settings_cache()
        yield hook
    reset_settings_cache()


def fetch(sql: str, params=()) -> list[dict]:
    with connection() as conn:
        rows = conn.execute(sql, params).fetchall()
        conn.commit()
    return rows


def outbox_row(entity_id):
    with connection() as conn:
        row = outbox.get(conn, entity_id)
        conn.commit()
    return row
