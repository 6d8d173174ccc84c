"""The Homeria stand-in as tests use it: one set of credentials, seeded customers, the
environment that points relay at it, and raw signed requests to it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from standins.homeria import serve
from sync_worker.signing import sign

TOKEN = "test-token"
SECRET = "test-secret"
CHANGES = "/v1/customer-email-changes"


def customer(n: int, brand: str = "acme", country: str = "ES") -> dict:
    return {"brand": brand, "country": country, "email": f"c{n}@example.com",
            "customer_ref": f"HC-{brand}-{country}-{n}"}


def homeria_env(url: str, **extra: str) -> dict[str, str]:
    """relay's environment for a stand-in at url, with fast retries and breaker."""
    env = {"HOMERIA_BASE_URL": url, "HOMERIA_API_TOKEN": TOKEN,
           "HOMERIA_SIGNING_SECRET": SECRET, "HOMERIA_MAX_RPS": "0",
           "HOMERIA_RETRY_BASE_SECONDS": "0.05", "HOMERIA_RETRY_MAX_SECONDS": "0.4",
           "HOMERIA_BREAKER_COOLDOWN_SECONDS": "1", "HOMERIA_BREAKER_THRESHOLD": "5"}
    env.update(extra)
    return env


@contextmanager
def seeded_homeria(customers: int, **kw) -> Iterator:
    """The stand-in in-process on port 0, holding customer(1) … customer(customers)."""
    with serve(token=TOKEN, secret=SECRET, seed=[customer(n) for n in range(1, customers + 1)],
               **kw) as running:
        yield running


@pytest.fixture
def homeria():
    """The stand-in holding customers 1-20."""
    with seeded_homeria(20) as running:
        yield running


def valid_body(**overrides) -> dict:
    doc = {"change_id": str(uuid.uuid4()), "current_email": "ana@example.com",
           "new_email": "ana.s@example.com", "brand": "acme", "country": "ES",
           "requested_at": "2026-11-23T10:00:00Z"}
    doc.update(overrides)
    return doc


def post(homeria, doc=None, raw=None, key=None, headers=None, token=TOKEN, ts=None):
    """A signed POST of an email change, as raw as the caller wants it."""
    body = raw if raw is not None else json.dumps(doc).encode()
    ts = int(time.time()) if ts is None else ts
    sent = {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
            "Idempotency-Key": key if key is not None else (doc or {}).get("change_id", ""),
            "Homeria-Timestamp": str(ts), "Homeria-Signature": sign(SECRET, ts, body)}
    sent.update(headers or {})
    return requests.post(homeria.url + CHANGES, data=body, headers=sent, timeout=5)
