"""API keys for the HTTP API: create, authenticate, list, revoke.

A key is `relay_` + 32 random bytes (secrets.token_urlsafe), shown once at creation. Only
its SHA-256 is stored. A slow password hash (bcrypt, argon2) protects low-entropy secrets
against guessing after a database leak; 256 random bits cannot be guessed, so one SHA-256
is as safe here and costs about a microsecond per request instead of ~100 ms.

`authenticate` remembers a key found valid for CACHE_SECONDS per process (keyed by the
key's hash, never the key): at 200 requests a second the lookup was a pooled connection and
a round trip on every request, about a tenth of the API's CPU per call. The bound this
sets: a revoked key stops working within CACHE_SECONDS (2 s) in every API process, at
once in the process that revoked it. Unknown and revoked keys are not remembered, so a new
key works on its first request. `last_used_at` is written at most once per LAST_USED_EVERY
per key and process — a write on every request would double the database work of a read.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Literal

from relay.db import connection, run_one
from relay.errors import InvalidInput, NotFound, RelayError
from relay.logs import get_logger

log = get_logger(__name__)

Scope = Literal["produce", "read", "operate"]
SCOPES: tuple[str, ...] = ("produce", "read", "operate")
PREFIX = "relay_"
LAST_USED_EVERY = 60.0   # seconds between last_used_at writes per key and process
CACHE_SECONDS = 2.0      # a revoked key is refused within this, in every API process
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name (recorded as "who" in audits) and its scope."""

    name: str
    scope: str

    def may(self, needed: str) -> bool:
        """`read` is part of `operate`; `produce` stands alone."""
        return self.scope == needed or (needed == "read" and self.scope == "operate")


def hash_key(raw_key: str) -> bytes:
    return hashlib.sha256(raw_key.encode("utf-8")).digest()


def _check(name: str, scope: str | None = None) -> None:
    if not _NAME_RE.match(name or ""):
        raise InvalidInput("name", "1-64 characters: letters, digits, '.', '_' or '-', "
                                   "starting with a letter or digit")
    if scope is not None and scope not in SCOPES:
        raise InvalidInput("scope", f"must be one of {', '.join(SCOPES)}; got {scope!r}")


def create(name: str, scope: str) -> str:
    """Store a new key; return the raw key (the only time it exists outside the caller)."""
    _check(name, scope)
    raw = PREFIX + secrets.token_urlsafe(32)
    row = run_one("""INSERT INTO api_keys (name, scope, key_hash) VALUES (%s, %s, %s)
                     ON CONFLICT (name) DO NOTHING RETURNING name""",
                  (name, scope, hash_key(raw)))
    if row is None:
        raise RelayError(f"an API key named {name!r} already exists (revoke it first, or "
                         "choose another name)")
    log.info("api_key.created", name=name, scope=scope)
    return raw


_last_write: dict[str, float] = {}
_last_write_lock = threading.Lock()
# key hash -> (Principal, monotonic time it was read); plain dict operations are atomic
_valid: dict[bytes, tuple[Principal, float]] = {}


def authenticate(raw_key: str) -> Principal | None:
    """The key's Principal, or None for an unknown or revoked key (one read from
    PostgreSQL at most every CACHE_SECONDS per key and process)."""
    if not raw_key or not raw_key.startswith(PREFIX) or len(raw_key) > 200:
        return None
    digest = hash_key(raw_key)
    now = time.monotonic()
    cached = _valid.get(digest)
    if cached is not None and now - cached[1] < CACHE_SECONDS:
        principal = cached[0]
    else:
        row = run_one("SELECT name, scope FROM api_keys WHERE key_hash = %s"
                      " AND revoked_at IS NULL", (digest,))
        if row is None:
            _valid.pop(digest, None)
            return None
        principal = Principal(row["name"], row["scope"])
        _valid[digest] = (principal, now)
    _touch(principal.name, now)
    return principal


def forget_cached() -> None:
    """Drop every remembered key (revoke() in this process; tests)."""
    _valid.clear()


def _touch(name: str, now: float) -> None:
    if now - _last_write.get(name, -LAST_USED_EVERY) < LAST_USED_EVERY:
        return   # the common case, without the lock
    with _last_write_lock:
        if now - _last_write.get(name, -LAST_USED_EVERY) < LAST_USED_EVERY:
            return
        _last_write[name] = now
    try:
        run_one("UPDATE api_keys SET last_used_at = now() WHERE name = %s RETURNING name",
                (name,))
    except Exception as exc:  # bookkeeping only: never fail the request for it
        log.warning("api_key.touch_failed", name=name, error=repr(exc))


def list_keys() -> list[dict]:
    """Every key (revoked ones too), without hashes."""
    with connection() as conn:
        rows = conn.execute(
            """SELECT name, scope, created_at, last_used_at, revoked_at FROM api_keys
               ORDER BY name""").fetchall()
        conn.commit()
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
            for r in rows]


def revoke(name: str) -> None:
    """Revoke a key: it fails authentication from the next request on. The row stays (its
    name is in audit trails), so the name cannot be reused."""
    _check(name)
    row = run_one("""UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
                     WHERE name = %s RETURNING name""", (name,))
    if row is None:
        raise NotFound(f"no API key named {name!r}")
    forget_cached()   # other processes within CACHE_SECONDS
    log.info("api_key.revoked", name=name)
