"""Homeria request signing: `v1=` + hex HMAC-SHA256 over `<timestamp>.<raw body>`.

Kept apart from the HTTP client so the exact bytes rule is testable against a fixed
vector: the signature covers the bytes that go on the wire, never a re-serialization.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_VERSION = "v1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the `Homeria-Signature` header value for `body` signed at `timestamp`."""
    message = str(int(timestamp)).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"
