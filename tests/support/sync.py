"""Sync tests' equipment: the sync runtime pointed at the Homeria stand-in, the rows a
change leaves, and what Redis holds (the privacy proof reads it all)."""

from __future__ import annotations

import base64
import json
import re

import pytest

from relay.settings import reset_settings_cache
from sync_worker.policy import reset_policy_cache
from sync_worker.runtime import reset_runtime, runtime
from tests.support.homeria import homeria_env
from tests.support.rows import fetch

# Every email the tests use is @example.com (worker node names like w0-1@test.celery.pidbox
# look like addresses too, and are not PII).
EMAIL_RE = re.compile(rb"[A-Za-z0-9._%+\-]+@example\.com", re.IGNORECASE)


@pytest.fixture
def sync_rt(homeria, db, broker, monkeypatch):
    """The sync runtime of this process, pointed at the stand-in (fast retries)."""
    for name, value in homeria_env(homeria.url).items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    reset_policy_cache()
    reset_runtime()
    yield runtime()
    reset_runtime()
    monkeypatch.undo()
    reset_settings_cache()
    reset_policy_cache()


def changes(ids=None) -> list[dict]:
    if ids is None:
        return fetch("SELECT * FROM email_changes ORDER BY seq")
    return fetch("SELECT * FROM email_changes WHERE id = ANY(%s) ORDER BY seq", (list(ids),))


def change(change_id) -> dict:
    (row,) = changes([change_id])
    return row


def final(ids) -> bool:
    return all(r["state"] in {"synced", "superseded", "dead"} for r in changes(ids))


def synced_count(ids) -> int:
    return sum(r["state"] == "synced" for r in changes(ids))


def dead_letters() -> list[dict]:
    return fetch("SELECT * FROM dead_letters ORDER BY id")


def attempts_of(change_id) -> list[dict]:
    return fetch("SELECT * FROM attempts WHERE entity_id = %s ORDER BY id", (change_id,))


def posts(homeria) -> list:
    return [r for r in homeria.requests("/v1/customer-email-changes") if r.method == "POST"]


def _expand(raw: bytes) -> list[bytes]:
    """A Redis value plus whatever it hides: kombu envelopes carry a base64 body."""
    out = [raw]
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return out
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            body = item.get("body")
            if isinstance(body, str):
                try:
                    out.append(base64.b64decode(body, validate=True))
                except ValueError:
                    out.append(body.encode())
            stack.extend(item.values())
    return out


def redis_values(client) -> list[bytes]:
    """Every key name and every value held in Redis (lists, hashes, sets, zsets, strings)."""
    values: list[bytes] = []
    for key in client.scan_iter(count=1000):
        values.append(key)
        kind = client.type(key)
        if kind == b"string":
            items = [client.get(key) or b""]
        elif kind == b"list":
            items = client.lrange(key, 0, -1)
        elif kind == b"hash":
            items = [x for kv in client.hgetall(key).items() for x in kv]
        elif kind == b"set":
            items = list(client.smembers(key))
        elif kind == b"zset":
            items = client.zrange(key, 0, -1)
        else:
            items = []
        for item in items:
            values.extend(_expand(item))
    return values


def emails_in_redis(client) -> list[bytes]:
    return [m.group(0) for v in redis_values(client) for m in EMAIL_RE.finditer(v)]
