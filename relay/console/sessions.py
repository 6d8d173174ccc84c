"""Console sessions: sign in with an API key, get a server-side session.

Why server-side rows and not a signed cookie: `relay serve` runs several processes and we
want no new shared secret to configure; a row also lets a revoked API key end its console
sessions on the very next request (the look-up joins `api_keys`). The cookie carries a
random token (256 bits); only its SHA-256 is stored, like the keys themselves. Each
session has its own CSRF token, checked on every POST together with the Origin header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from relay import apikeys
from relay.apikeys import Principal
from relay.db import run_one
from relay.logs import get_logger

log = get_logger(__name__)

COOKIE = "relay_console"
LIFETIME = timedelta(hours=12)
CONSOLE_SCOPES = ("read", "operate")


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str

    @property
    def may_act(self) -> bool:
        return self.principal.may("operate")


class SignInRefused(Exception):
    """The key cannot open the console; the message says why, for the sign-in page."""


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def sign_in(raw_key: str) -> tuple[str, Session]:
    """Check the key through the API's own `authenticate()`; return (cookie token, session)."""
    principal = apikeys.authenticate((raw_key or "").strip())
    if principal is None:
        log.info("console.sign_in_refused", reason="unknown_key")
        raise SignInRefused("That API key is not valid (unknown or revoked).")
    if principal.scope not in CONSOLE_SCOPES:
        log.info("console.sign_in_refused", reason="scope", key=principal.name)
        raise SignInRefused(f"The key {principal.name!r} has scope {principal.scope!r}: the "
                            "console needs a read or operate key.")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    run_one("DELETE FROM console_sessions WHERE expires_at < now() RETURNING 1")
    run_one("""INSERT INTO console_sessions (token_hash, key_name, csrf, expires_at)
               VALUES (%s, %s, %s, now() + %s) RETURNING key_name""",
            (_hash(token), principal.name, csrf, LIFETIME))
    log.info("console.signed_in", key=principal.name, scope=principal.scope)
    return token, Session(principal, csrf)


def current(token: str | None) -> Session | None:
    """The live session for a cookie token, or None (unknown, expired, or key revoked)."""
    if not token or len(token) > 100:
        return None
    row = run_one(
        """SELECT s.key_name, k.scope, s.csrf FROM console_sessions s
           JOIN api_keys k ON k.name = s.key_name AND k.revoked_at IS NULL
           WHERE s.token_hash = %s AND s.expires_at > now()""", (_hash(token),))
    if row is None or row["scope"] not in CONSOLE_SCOPES:
        return None
    return Session(Principal(row["key_name"], row["scope"]), row["csrf"])


def sign_out(token: str | None) -> None:
    if token:
        run_one("DELETE FROM console_sessions WHERE token_hash = %s RETURNING key_name",
                (_hash(token),))


def csrf_ok(session: Session, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf, sent)
