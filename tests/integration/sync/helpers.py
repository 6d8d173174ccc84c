"""Shared by the sync integration and e2e tests: the stand-in, env, and DB readers."""

from __future__ import annotations

import base64
import json
import re

from relay.db import connection

TOKEN = "sync-test-token"
SECRET = "sync-test-secret"
# Every email the tests use is @example.com (worker node names like w0-1@test.celery.pidbox
# look like addresses too, and are not PII).
EMAIL_RE = re.compile(rb"[A-Za-z0-9._%+\-]+@example\.com", re.IGNORECASE)


def customer(n: int, brand: str = "acme", country: str = "ES") -> dict:
    return {"brand": brand, "country": country, "email": f"c{n}@example.com",
            "customer_ref": f"HC-{brand}-{country}-{n}"}


def homeria_env(url: str, **extra: str) -> dict[str, str]:
    env = {"HOMERIA_BASE_URL": url, "HOMERIA_API_TOKEN": TOKEN,
           "HOMERIA_SIGNING_SECRET": SECRET, "HOMERIA_MAX_RPS": "0",
           "HOMERIA_RETRY_BASE_SECONDS": "0.05", "HOMERIA_RETRY_MAX_SECONDS": "0.4",
           "HOMERIA_BREAKER_COOLDOWN_SECONDS": "1", "HOMERIA_BREAKER_THRESHOLD": "5"}
    env.update(extra)
    return env


def changes(ids=None) -> list[dict]:
    with connection() as conn:
        if ids is None:
            rows = conn.execute("SELECT * FROM email_changes ORDER BY seq").fetchall()
        else:
            rows = conn.execute("SELECT * FROM email_changes WHERE id = ANY(%s) ORDER BY seq",
                                (list(ids),)).fetchall()
        conn.commit()
    return rows


def change(change_id) -> dict:
    (row,) = changes([change_id])
    return row


def final(ids) -> bool:
    return all(r["state"] in {"synced", "superseded", "dead"} for r in changes(ids))


def dead_letters() -> list[dict]:
    with connection() as conn:
        rows = conn.execute("SELECT * FROM dead_letters ORDER BY id").fetchall()
        conn.commit()
    return rows


def attempts_of(change_id) -> list[dict]:
    with connection() as conn:
        rows = conn.execute("SELECT * FROM attempts WHERE entity_id = %s ORDER BY id",
                            (change_id,)).fetchall()
        conn.commit()
    return rows


def table_count(table: str) -> int:
    with connection() as conn:
        n = conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]
        conn.commit()
    return int(n)


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
