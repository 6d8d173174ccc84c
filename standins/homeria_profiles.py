"""The Homeria stand-in's profile endpoint: `POST /v1/customer-profile-changes`
(docs/contracts/homeria.md, added 2026-11-30), strict like the rest of the stand-in.

Checked independently of relay's own validation (which uses libphonenumber): the body's
exact field set, each field's shape, a 422 naming the first field it rejects. Idempotency
as the contract's clarification says: the first processed result of a key (200, 400, 404,
409, 422) is kept and answered again; the same key with another body is a 422; results
not processed (401, 403, 429, 5xx, dropped) are not kept.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from uuid import UUID

PROFILE_PATH = "/v1/customer-profile-changes"
FIELDS = ("change_id", "email", "brand", "country", "requested_at", "changes")
PROFILE_FIELDS = ("phone", "first_name", "last_name", "address")
ADDRESS_FIELDS = ("line1", "line2", "city", "postal_code", "country")
E164_RE = re.compile(r"^\+[1-9]\d{7,14}$")


def invalid_field(doc: dict[str, Any], countries: frozenset[str], email_ok, brand_ok) -> str | None:
    """The first field the contract's body shape rejects, or None."""
    for name in (*FIELDS, *sorted(set(doc) - set(FIELDS))):
        if name not in FIELDS or name not in doc:
            return name
        value = doc[name]
        if name == "changes":
            bad = _invalid_changes(value, countries)
            if bad:
                return bad
            continue
        if not isinstance(value, str) or not _top_ok(name, value, countries, email_ok,
                                                     brand_ok):
            return name
    return None


def _top_ok(name: str, value: str, countries, email_ok, brand_ok) -> bool:
    if name == "change_id":
        try:
            UUID(value)
        except ValueError:
            return False
        return True
    if name == "email":
        return email_ok(value)
    if name == "brand":
        return brand_ok(value)
    if name == "country":
        return value in countries
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _invalid_changes(changes: Any, countries: frozenset[str]) -> str | None:
    if not isinstance(changes, dict) or not changes:
        return "changes"
    for name in sorted(changes):
        value = changes[name]
        where = f"changes.{name}"
        if name not in PROFILE_FIELDS:
            return where
        if value is None:
            continue
        if name == "phone" and not (isinstance(value, str) and E164_RE.match(value)):
            return where
        if name in {"first_name", "last_name"} and not (
                isinstance(value, str) and 1 <= len(value) <= 100 and value.strip()):
            return where
        if name == "address":
            bad = _invalid_address(value, countries)
            if bad:
                return f"{where}.{bad}" if bad != "." else where
    return None


def _invalid_address(value: Any, countries: frozenset[str]) -> str | None:
    if not isinstance(value, dict):
        return "."
    for key in sorted(set(value) | {"line1", "city", "postal_code", "country"}):
        item = value.get(key)
        if key not in ADDRESS_FIELDS:
            return key
        if key == "line2" and item is None:
            continue
        if not isinstance(item, str) or not item.strip() or len(item) > 200:
            return key
        if key == "country" and item not in countries:
            return key
    return None


class ProfileBook:
    """Per-key results of the profile endpoint; lives on HomeriaState (its lock guards it)."""

    KEPT = frozenset({200, 400, 404, 409, 422})

    def __init__(self) -> None:
        self.results: dict[str, tuple[str, int, dict]] = {}

    def clear(self) -> None:
        self.results.clear()


def apply(state, key: str, body: bytes, doc: dict | None, error: tuple[int, dict] | None
          ) -> tuple[int, dict]:
    """Answer one authenticated, signed request under `key` (see module doc)."""
    fingerprint = body.decode("utf-8", "replace")
    with state._lock:
        kept = state.profiles.results.get(key)
        if kept is not None:
            if kept[0] != fingerprint:
                return 422, {"error": "idempotency_key_reused"}
            status, result = kept[1], dict(kept[2])
            if status == 200:
                result["status"] = "already_applied"
            return status, result
        status, result = error if error else _decide(state, doc)
        if status in ProfileBook.KEPT:
            state.profiles.results[key] = (fingerprint, status, dict(result))
        return status, result


def _decide(state, doc: dict) -> tuple[int, dict]:
    customer = state._customers.get(state._key(doc["brand"], doc["country"], doc["email"]))
    if customer is None:
        return 404, {"error": "customer_not_found"}
    changes = doc["changes"]
    if all(getattr(customer, k) == v for k, v in changes.items()):
        return 200, {"status": "already_applied", "customer_ref": customer.customer_ref}
    for name, value in changes.items():
        setattr(customer, name, dict(value) if isinstance(value, dict) else value)
    state._applied.append({"kind": "profile", **json.loads(json.dumps(doc))})
    return 200, {"status": "applied", "customer_ref": customer.customer_ref}


def profile_of(customer) -> dict[str, Any]:
    """The GET body's profile fields: those that are set."""
    return {k: getattr(customer, k) for k in PROFILE_FIELDS if getattr(customer, k) is not None}


def set_profile(state, brand: str, country: str, email: str, **fields: Any) -> None:
    """Change a customer's profile behind relay's back (tests: drift for reconciliation)."""
    with state._lock:
        customer = state._customers[state._key(brand, country, email)]
        for name, value in fields.items():
            if name not in PROFILE_FIELDS:
                raise ValueError(f"unknown profile field {name}")
            setattr(customer, name, value)
