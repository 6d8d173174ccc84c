"""The Homeria HTTP client: every Homeria-specific wire detail lives here and in errors.py.

Built once per process (from settings, in the composition root) and shared by the worker's
threads: one `requests.Session` whose connection pool is sized for a threaded worker.
`send_change` returns a typed `SendResult` and never raises for anything Homeria or the
network does; deciding what to do with it is `errors.py`'s and the service's job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from relay.logs import get_logger
from relay.settings import Settings, get_settings, require_secure_url
from sync_worker.errors import (
    Classification,
    Outcome,
    OutcomeFlags,
    classify_exception,
    classify_response,
    error_for,
)
from sync_worker.payload import EmailChangePayload
from sync_worker.profile_models import PROFILE_FIELDS
from sync_worker.signing import sign

__all__ = ["CustomerRecord", "EmailChangePayload", "HomeriaClient", "Outcome", "SendResult"]

log = get_logger(__name__)

CHANGES_PATH = "/v1/customer-email-changes"
PROFILE_CHANGES_PATH = "/v1/customer-profile-changes"
CUSTOMERS_PATH = "/v1/customers"
DEFAULT_TIMEOUT = (3.05, 10.0)


@dataclass(frozen=True)
class SendResult(OutcomeFlags):
    """The result of one POST: the outcome plus what the service needs to act and measure."""

    change_id: UUID
    outcome: Outcome
    reason: str
    status_code: int | None      # None: no response (timeout, reset, refused)
    latency_ms: float
    retry_after: float | None = None
    customer_ref: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class CustomerRecord:
    customer_ref: str
    email: str
    profile: dict[str, Any] | None = None   # phone, first_name, last_name, address when set

    def __repr__(self) -> str:
        return f"CustomerRecord(customer_ref={self.customer_ref!r})"


class _BearerAuth(AuthBase):
    """Setting auth on the session also stops requests from consulting ~/.netrc."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(***)"


class HomeriaClient:
    def __init__(self, base_url: str, token: str, secret: str,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT, pool_maxsize: int = 64,
                 clock: Callable[[], float] = time.time) -> None:
        """`clock` exists for tests (stale timestamps); production uses wall time."""
        self.base_url = require_secure_url(base_url, "HOMERIA_BASE_URL")
        if not token or not secret:
            raise ValueError("Homeria token and signing secret must be non-empty")
        self.timeout = timeout
        self._secret = secret
        self._clock = clock
        self.session = _session_for(self.base_url)
        self.session.auth = _BearerAuth(token)
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> HomeriaClient:
        kwargs.setdefault("timeout", settings.homeria_timeout)
        return cls(settings.homeria_base_url, settings.homeria_api_token,
                   settings.homeria_signing_secret, **kwargs)

    def __repr__(self) -> str:
        return f"HomeriaClient({urlsplit(self.base_url).netloc})"

    def send_change(self, change: EmailChangePayload) -> SendResult:
        """POST one change, signed over the exact bytes sent. Never raises for HTTP/network."""
        body = change.to_json_bytes()
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": str(change.idempotency_key),
            "Homeria-Timestamp": str(timestamp),
            "Homeria-Signature": sign(self._secret, timestamp, body),
        }
        started = time.perf_counter()
        status: int | None = None
        try:
            response = self.session.post(self.base_url + CHANGES_PATH, data=body,
                                         headers=headers, timeout=self.timeout,
                                         allow_redirects=False)
            status = response.status_code
            verdict = classify_response(status, _json_or_none(response), response.headers)
        except requests.RequestException as exc:
            verdict = classify_exception(exc)
        latency_ms = (time.perf_counter() - started) * 1000
        log.debug("homeria.send", change_id=str(change.change_id), status=status,
                  outcome=str(verdict.outcome), reason=verdict.reason,
                  latency_ms=round(latency_ms, 1))
        return SendResult(change.change_id, verdict.outcome, verdict.reason, status, latency_ms,
                          verdict.retry_after, verdict.customer_ref, verdict.detail)

    def send_profile_change(self, change_id: UUID, idempotency_key: str,
                            body: bytes) -> SendResult:
        """POST one profile change (its frozen wire bytes), signed. Never raises for
        HTTP/network; a 422 names the field Homeria rejected in `detail`."""
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            "Homeria-Timestamp": str(timestamp),
            "Homeria-Signature": sign(self._secret, timestamp, body),
        }
        started = time.perf_counter()
        status: int | None = None
        try:
            response = self.session.post(self.base_url + PROFILE_CHANGES_PATH, data=body,
                                         headers=headers, timeout=self.timeout,
                                         allow_redirects=False)
            status = response.status_code
            doc = _json_or_none(response)
            verdict = classify_response(status, doc, response.headers)
            if isinstance(doc, dict) and isinstance(doc.get("field"), str):
                verdict = replace(verdict, detail=f"{verdict.detail} ({doc['field'][:64]})")
        except requests.RequestException as exc:
            verdict = classify_exception(exc)
        latency_ms = (time.perf_counter() - started) * 1000
        log.debug("homeria.send_profile", change_id=str(change_id), status=status,
                  outcome=str(verdict.outcome), reason=verdict.reason,
                  latency_ms=round(latency_ms, 1))
        return SendResult(change_id, verdict.outcome, verdict.reason, status, latency_ms,
                          verdict.retry_after, verdict.customer_ref, verdict.detail)

    def get_customer(self, email: str, brand: str, country: str) -> CustomerRecord | None:
        """The customer holding `email` in (brand, country), or None on 404.

        Raises `HomeriaAuthError` / `HomeriaUnavailable` / `HomeriaRejected` for the rest, so
        reconciliation cannot mistake an outage for "not there".
        """
        params = {"email": email, "brand": brand, "country": country}
        try:
            response = self.session.get(self.base_url + CUSTOMERS_PATH, params=params,
                                        timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise error_for(classify_exception(exc)) from None
        body = _json_or_none(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("customer_ref"):
            return CustomerRecord(str(body["customer_ref"]), str(body.get("email", "")),
                                  {k: body[k] for k in PROFILE_FIELDS if k in body})
        verdict = classify_response(response.status_code, body, response.headers)
        if verdict.reason == "customer_not_found":
            return None
        if response.status_code == 200:
            verdict = Classification(Outcome.TRANSIENT, "unexpected_response")
        raise error_for(verdict, response.status_code)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HomeriaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _session_for(base_url: str) -> requests.Session:
    """A session that reads the proxy and CA-bundle environment once, here.

    With `trust_env` on, requests re-reads the environment on every request (it walks all
    of os.environ for *_proxy variables): about a third of a millisecond of CPU per POST,
    a tenth of a busy worker's time. Homeria's address is fixed for the process's life,
    so resolving the same variables once gives the same routing for less.
    """
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    settings = get_settings()
    bundle = settings.requests_ca_bundle or settings.curl_ca_bundle
    if bundle:
        session.verify = bundle
    session.trust_env = False
    return session


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
