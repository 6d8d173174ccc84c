"""Homeria response → outcome, and the retry policy: one place for each decision.

`classify_response` mirrors the response table of docs/contracts/homeria.md row by row;
`classify_exception` covers what never became a response (timeouts, resets). Callers act
on the `Outcome` and never look at status codes themselves, so a contract change touches
this module only.

Why the odd rows are where they are:
- 401/403 is AUTH, not PERMANENT: bad credentials, clock or signing are relay's fault, not
  the change's. Dead-lettering would bin every change during a token rotation.
- A 404 *without* `customer_not_found` (a gateway, a wrong base path) and a 200 without a
  recognised status are TRANSIENT: they say nothing about the change, and retrying under
  the same Idempotency-Key is safe.
- 3xx is TRANSIENT: redirects are never followed (the Authorization header must not leak).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Protocol

import requests

from relay.errors import RelayError


class Outcome(StrEnum):
    SYNCED = "synced"              # 200 applied / already_applied: mark synced
    PERMANENT = "permanent"        # 400/422/404/409: dead letter
    AUTH = "auth"                  # 401/403: never dead-letter; open the breaker, alert
    RATE_LIMITED = "rate_limited"  # 429: retry no earlier than Retry-After
    TRANSIENT = "transient"        # 5xx, timeouts, resets, unexpected: backoff + jitter


AUTH_ERRORS = frozenset({"unauthorized", "bad_signature", "stale_timestamp"})


class OutcomeFlags:
    """Questions about an `outcome` attribute, shared by Classification and the client's
    SendResult."""

    outcome: Outcome

    @property
    def synced(self) -> bool:
        return self.outcome is Outcome.SYNCED

    @property
    def dead_letter(self) -> bool:
        return self.outcome is Outcome.PERMANENT

    @property
    def opens_breaker(self) -> bool:
        return self.outcome is Outcome.AUTH


@dataclass(frozen=True)
class Classification(OutcomeFlags):
    """What a response (or a failure to get one) means for the change.

    `reason` is a stable code for metrics and the dead-letter table; `detail` is Homeria's
    own `error` string, if any (never contains PII: Homeria's errors are codes).
    """

    outcome: Outcome
    reason: str
    retry_after: float | None = None
    detail: str | None = None
    customer_ref: str | None = None

    @property
    def retryable(self) -> bool:
        return self.outcome in {Outcome.TRANSIENT, Outcome.RATE_LIMITED, Outcome.AUTH}


def _error_code(body: Any) -> str | None:
    if isinstance(body, Mapping) and isinstance(body.get("error"), str):
        return body["error"]
    return None


def classify_response(status: int, body: Any = None, headers: Mapping[str, str] | None = None,
                      now: datetime | None = None) -> Classification:
    """Map one Homeria response to an outcome (the contract's table, top to bottom)."""
    error = _error_code(body)
    if status == 200:
        state = body.get("status") if isinstance(body, Mapping) else None
        if state in {"applied", "already_applied"}:
            ref = body.get("customer_ref")
            return Classification(Outcome.SYNCED, state, customer_ref=ref)
        return Classification(Outcome.TRANSIENT, "unexpected_response")
    if status in {400, 422}:
        return Classification(Outcome.PERMANENT, "invalid_payload", detail=error)
    if status in {401, 403}:
        fallback = "unauthorized" if status == 401 else "forbidden"
        reason = error if error in AUTH_ERRORS else fallback
        return Classification(Outcome.AUTH, reason, detail=error)
    if status == 404:
        if error == "customer_not_found":
            return Classification(Outcome.PERMANENT, "customer_not_found", detail=error)
        return Classification(Outcome.TRANSIENT, "unexpected_not_found", detail=error)
    if status == 409:
        return Classification(Outcome.PERMANENT, "email_in_use", detail=error)
    if status == 429:
        value = _header(headers, "Retry-After")
        return Classification(Outcome.RATE_LIMITED, "rate_limited",
                              retry_after=parse_retry_after(value, now), detail=error)
    if status >= 500:
        return Classification(Outcome.TRANSIENT, "server_error", detail=error)
    return Classification(Outcome.TRANSIENT, "unexpected_status", detail=error)


def classify_exception(exc: BaseException) -> Classification:
    """A request that got no response at all. Always TRANSIENT; the reason tells which."""
    if isinstance(exc, requests.Timeout):
        return Classification(Outcome.TRANSIENT, "timeout")
    if isinstance(exc, requests.exceptions.SSLError):
        return Classification(Outcome.TRANSIENT, "tls_error")
    if isinstance(exc, requests.ConnectionError):
        return Classification(Outcome.TRANSIENT, "connection_error")
    return Classification(Outcome.TRANSIENT, "request_error")


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP-date; None if absent/bad.

    A date in the past means "now" (0.0), not an error.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(attempt: int, base: float = 2.0, cap: float = 600.0,
                  rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt)).

    Full jitter (not "equal" or none) spreads a herd of workers that failed together, so a
    recovering Homeria is not hit by synchronized waves. `attempt` counts earlier failures
    from 0.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    ceiling = min(cap, base * 2 ** min(attempt, 64))
    return (rng or random).uniform(0, ceiling)


class HasOutcome(Protocol):
    @property
    def outcome(self) -> Outcome: ...
    @property
    def retry_after(self) -> float | None: ...


def retry_delay(result: HasOutcome, attempt: int, base: float = 2.0, cap: float = 600.0,
                rng: random.Random | None = None) -> float | None:
    """Seconds to wait before retrying, or None when the change must not be retried.

    429 waits at least Retry-After (plus up to 1 s of jitter so a burst does not return as
    a burst); without the header it falls back to backoff like any transient failure.
    """
    if result.outcome in {Outcome.SYNCED, Outcome.PERMANENT}:
        return None
    if result.outcome is Outcome.RATE_LIMITED and result.retry_after is not None:
        return result.retry_after + (rng or random).uniform(0, 1.0)
    return backoff_delay(attempt, base=base, cap=cap, rng=rng)


class HomeriaError(RelayError):
    """Raised by the client's read calls (`get_customer`); carries the classification."""

    def __init__(self, classification: Classification, status_code: int | None = None) -> None:
        self.classification = classification
        self.status_code = status_code
        super().__init__(f"homeria {classification.outcome}: {classification.reason}"
                         + (f" (HTTP {status_code})" if status_code else ""))


class HomeriaAuthError(HomeriaError):
    """401/403: relay's credentials, clock or signing are wrong."""


class HomeriaUnavailable(HomeriaError):
    """Transient or rate-limited: try again later."""


class HomeriaRejected(HomeriaError):
    """Permanent: Homeria refused the request as such."""


def error_for(classification: Classification, status_code: int | None = None) -> HomeriaError:
    kind = {Outcome.AUTH: HomeriaAuthError, Outcome.PERMANENT: HomeriaRejected}.get(
        classification.outcome, HomeriaUnavailable)
    return kind(classification, status_code)
