"""Homeria stand-in: a real HTTP server implementing docs/contracts/homeria.md.

It verifies what the real Homeria would (bearer token, timestamp window, HMAC signature over
the raw body, payload shape, Idempotency-Key) and keeps customers per (brand, country), so
the client's tests, the e2e suite and the benchmark all exercise the contract, not a mock.
Signature checking is written here independently of `sync_worker.signing` on purpose: a
bug in the client's signing must fail against the stand-in, not be mirrored by it.

Idempotency is the contract's (clarified 2026-11-30), strict on purpose: the first
*processed* result of each Idempotency-Key — 200 applied/already_applied, 400, 404, 409,
422 alike — is kept for 30 days and replayed: same key + same body (and path) -> that
result again (a kept `applied` answers `already_applied`, same customer_ref), nothing
applied twice; same key + different body -> 422 `idempotency_key_reused`. Results it did
not process are not kept: 401, 403, 429, 5xx, injected faults, dropped connections. So a
change that got a 404 answers 404 under that key even after the customer exists — relay
must use a new key to deliver it again, as against the real Homeria.

In-process: `with serve(seed=[...]) as homeria: homeria.url, homeria.state.lookup(...)`.
Shell: `python -m standins homeria --port 8091 --seed-demo [--latency-ms 20 ...]`;
fault settings from flags, from `HOMERIA_STANDIN_<FIELD>` or else `STANDIN_<FIELD>`
(e.g. STANDIN_DROP_AFTER_APPLY_RATE=0.1), or at run time via POST /_control/faults.

Control endpoints (beside httpserver's /_control/health, /requests, /faults):
    POST   /_control/seed         [{brand, country, email, customer_ref?}] -> the customers
    GET    /_control/customers    every customer (customer_ref, brand, country, email)
    DELETE /_control/customers    forget customers, kept keys and the applied record
    GET    /_control/applied      what was applied, in order: the change body plus
                                  applied_seq, applied_at, path, idempotency_key and
                                  customer_ref (?customer_ref=… or ?change_id=… to filter)
                                  — the record "applied at most once" and per-customer
                                  order are checked against
    GET    /_control/keys         kept results per Idempotency-Key: status, body, path,
                                  stored_at (?key=… for one)
    POST   /_control/credentials  {api_token?, signing_secret?} (a rotation)
Faults (POST /_control/faults): error_rate, error_status, latency_ms, latency_jitter_ms,
burst_429, retry_after, outage_seconds and drop_after_apply_rate — the share of requests
that are applied (and their result kept under the key) and then left unanswered, the
connection closed: "lost responses".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import pycountry

from relay.logs import get_logger
from standins import homeria_profiles as profiles
from standins.faults import Faults
from standins.httpserver import (
    LoggedRequest,
    Response,
    RunningStandIn,
    StandInHandler,
    StandInServer,
    run_standin,
    standin_parser,
)

log = get_logger(__name__)

DEFAULT_TOKEN = "dev-homeria-token"  # = relay.settings dev defaults
DEFAULT_SECRET = "dev-homeria-signing-secret"
CHANGES_PATH = "/v1/customer-email-changes"
CUSTOMERS_PATH = "/v1/customers"
FIELDS = ("change_id", "current_email", "new_email", "brand", "country", "requested_at")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
BRAND_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_KEY_LENGTH = 255
_INVALID = object()   # a body that is not JSON


@dataclass
class Customer:
    customer_ref: str
    brand: str
    country: str
    email: str
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    address: dict[str, Any] | None = None


KEY_TTL_SECONDS = 30 * 86400
# What Homeria does not keep: it did not process the request (contract, Idempotency).
_NOT_KEPT = frozenset({401, 403, 429})


def result_is_kept(status: int) -> bool:
    """Does Homeria keep this answer as the key's result? (200 and 4xx but 401/403/429.)"""
    return status < 500 and status not in _NOT_KEPT


@dataclass
class _KeyRecord:
    fingerprint: str
    path: str
    status: int
    body: dict[str, Any]
    stored_at: float


class HomeriaState:
    """Homeria's data plus the credentials it expects; every mutation under one short lock.

    Idempotency follows the contract exactly (see the module docstring): `respond(key,
    path, fingerprint, handle)` replays a kept result or runs `handle()` and keeps what it
    answered if Homeria would. Every endpoint that takes an Idempotency-Key goes through it.
    """

    def __init__(self, api_token: str = DEFAULT_TOKEN, signing_secret: str = DEFAULT_SECRET,
                 max_skew_s: float = 300, clock=time.time) -> None:
        self.api_token = api_token            # assign at run time to simulate a rotation
        self.signing_secret = signing_secret
        self.max_skew_s = max_skew_s
        self.clock = clock
        # re-entrant: an endpoint's `respond(..., handle)` may look customers up inside
        self._lock = threading.RLock()
        self._customers: dict[tuple[str, str, str], Customer] = {}
        self._refs: set[str] = set()
        self._keys: dict[str, _KeyRecord] = {}
        self._applied: list[dict[str, Any]] = []
        self._next_ref = 1
        self.profiles = profiles.ProfileBook()   # results of the profile endpoint, per key

    @staticmethod
    def _key(brand: str, country: str, email: str) -> tuple[str, str, str]:
        return brand.lower(), country.upper(), email.lower()

    def seed(self, brand: str, country: str, email: str,
             customer_ref: str | None = None) -> Customer:
        """Add a customer (idempotent for the same email and ref)."""
        key = self._key(brand, country, email)
        with self._lock:
            existing = self._customers.get(key)
            if existing is not None:
                if customer_ref not in (None, existing.customer_ref):
                    raise ValueError("email already held by another customer_ref")
                return replace(existing)
            if customer_ref is None:
                while f"HC-{self._next_ref:06d}" in self._refs:
                    self._next_ref += 1
                customer_ref = f"HC-{self._next_ref:06d}"
            elif customer_ref in self._refs:
                raise ValueError(f"customer_ref {customer_ref} already exists")
            customer = Customer(customer_ref, key[0], key[1], email)
            self._customers[key] = customer
            self._refs.add(customer_ref)
            return replace(customer)

    def lookup(self, brand: str, country: str, email: str) -> Customer | None:
        with self._lock:
            found = self._customers.get(self._key(brand, country, email))
            return replace(found) if found else None

    def customers(self) -> list[Customer]:
        with self._lock:
            return [replace(c) for c in self._customers.values()]

    @property
    def applied_changes(self) -> list[dict[str, Any]]:
        """What was applied, in the order applied (a copy): each change's body plus
        applied_seq, applied_at, path, idempotency_key and customer_ref."""
        with self._lock:
            return [dict(a) for a in self._applied]

    def applied_by_change(self) -> dict[str, int]:
        """change_id -> how many times it was applied (more than 1 is a contract breach)."""
        counts: dict[str, int] = {}
        for applied in self.applied_changes:
            counts[applied["change_id"]] = counts.get(applied["change_id"], 0) + 1
        return counts

    def kept_results(self) -> dict[str, dict[str, Any]]:
        """Idempotency-Key -> the result kept for it (status, body, path, stored_at)."""
        with self._lock:
            return {k: {"status": r.status, "body": dict(r.body), "path": r.path,
                        "stored_at": r.stored_at} for k, r in self._keys.items()}

    def reset(self) -> None:
        with self._lock:
            self._customers.clear()
            self._refs.clear()
            self._keys.clear()
            self._applied.clear()
            self.profiles.clear()

    def respond(self, idempotency_key: str, path: str, fingerprint: str,
                handle: Callable[[], tuple[int, dict[str, Any]]]) -> tuple[int, dict[str, Any]]:
        """Answer one keyed request: the kept result, a 422 for a reused key, or `handle()`
        (run under the lock, so two requests with one key cannot both apply)."""
        with self._lock:
            now = self.clock()
            record = self._keys.get(idempotency_key)
            if record is not None and now - record.stored_at > KEY_TTL_SECONDS:
                del self._keys[idempotency_key]
                record = None
            if record is not None:
                if (record.fingerprint, record.path) != (fingerprint, path):
                    return 422, {"error": "idempotency_key_reused"}
                if record.status == 200:
                    return 200, {**record.body, "status": "already_applied"}
                return record.status, dict(record.body)
            status, body = handle()
            if result_is_kept(status):
                self._keys[idempotency_key] = _KeyRecord(fingerprint, path, status, dict(body),
                                                         now)
            return status, body

    def apply(self, idempotency_key: str, change: dict[str, Any]) -> tuple[int, dict[str, str]]:
        """Apply one validated email change in arrival order; returns (status, body)."""
        return self.respond(idempotency_key, CHANGES_PATH, fingerprint_of(change),
                            lambda: self._decide(change, idempotency_key))

    def record_applied(self, change: dict[str, Any], *, path: str, idempotency_key: str,
                       customer_ref: str) -> None:
        """Note one applied change (caller holds the lock, inside `respond`'s handle)."""
        self._applied.append({**change, "applied_seq": len(self._applied) + 1,
                              "applied_at": self.clock(), "path": path,
                              "idempotency_key": idempotency_key,
                              "customer_ref": customer_ref})

    def _decide(self, change: dict[str, Any], idempotency_key: str) -> tuple[int, dict[str, str]]:
        brand, country = change["brand"], change["country"]
        current = self._customers.get(self._key(brand, country, change["current_email"]))
        holder = self._customers.get(self._key(brand, country, change["new_email"]))
        if holder is not None and (current is None or holder is current):
            return 200, {"status": "already_applied", "customer_ref": holder.customer_ref}
        if current is None:
            return 404, {"error": "customer_not_found"}
        if holder is not None:
            return 409, {"error": "email_in_use"}
        del self._customers[self._key(brand, country, current.email)]
        current.email = change["new_email"]
        self._customers[self._key(brand, country, current.email)] = current
        self.record_applied(change, path=CHANGES_PATH, idempotency_key=idempotency_key,
                            customer_ref=current.customer_ref)
        return 200, {"status": "applied", "customer_ref": current.customer_ref}


def fingerprint_of(doc: Any) -> str:
    """"Same body" as Homeria judges it: the same JSON value, however it was formatted."""
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


@cache
def _country_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def invalid_field(doc: Mapping[str, Any]) -> str | None:
    """The first field that breaks the contract's body shape, or None if it is valid."""
    for name in (*FIELDS, *sorted(set(doc) - set(FIELDS))):
        value = doc.get(name)
        if name not in FIELDS or not isinstance(value, str):
            return name
        if not _field_ok(name, value):
            return name
    return None


def _field_ok(name: str, value: str) -> bool:
    if name == "change_id":
        try:
            UUID(value)
        except ValueError:
            return False
        return True
    if name in {"current_email", "new_email"}:
        return len(value) <= 254 and EMAIL_RE.match(value) is not None
    if name == "brand":
        return BRAND_RE.match(value) is not None
    if name == "country":
        return value in _country_codes()
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


class HomeriaHandler(StandInHandler):
    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
        state: HomeriaState = self.server.state
        if path == CHANGES_PATH and method == "POST":
            return self._post_change(state, body)
        if path == CUSTOMERS_PATH and method == "GET":
            return self._get_customer(state, query)
        if path == profiles.PROFILE_PATH and method == "POST":
            return self._post_profile(state, body)
        if path in {CHANGES_PATH, CUSTOMERS_PATH, profiles.PROFILE_PATH}:
            return Response(405, {"error": "method_not_allowed"})
        return Response(404, {"error": "not_found"})

    def _authorized(self, state: HomeriaState) -> bool:
        given = (self.headers.get("Authorization") or "").encode()
        return hmac.compare_digest(given, f"Bearer {state.api_token}".encode())

    def _signature_error(self, state: HomeriaState, body: bytes) -> str | None:
        raw_ts = self.headers.get("Homeria-Timestamp") or ""
        expected = "v1=" + hmac.new(state.signing_secret.encode(), raw_ts.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
        if not hmac.compare_digest((self.headers.get("Homeria-Signature") or "").encode(),
                                   expected.encode()):
            return "bad_signature"
        if not raw_ts.isdigit() or abs(state.clock() - int(raw_ts)) > state.max_skew_s:
            return "stale_timestamp"
        return None

    def _post_change(self, state: HomeriaState, body: bytes) -> Response:
        def handle(doc: Any, key: str) -> tuple[int, dict[str, Any]]:
            if not isinstance(doc, dict):
                return 400, {"error": "invalid_json"}
            bad = invalid_field(doc)
            if bad:
                return 422, {"error": "invalid_payload", "field": bad}
            return state._decide(doc, key)
        return self._keyed_post(state, CHANGES_PATH, body, handle)

    def _keyed_post(self, state: HomeriaState, path: str, body: bytes,
                    handle: Callable[[Any, str], tuple[int, dict[str, Any]]]) -> Response:
        """A signed, keyed POST: credentials and signature first (a 401 is never kept),
        then everything Homeria processes — content type, JSON, `handle(doc, key)`'s
        validation and work — answered once per key through `state.respond`."""
        if not self._authorized(state):
            return Response(401, {"error": "unauthorized"})
        problem = self._signature_error(state, body)
        if problem:
            return Response(401, {"error": problem})
        key = (self.headers.get("Idempotency-Key") or "").strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            return Response(400, {"error": "missing_idempotency_key" if not key
                                  else "idempotency_key_too_long"})
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            doc = json.loads(body.decode("utf-8"))
            fingerprint = fingerprint_of(doc)
        except (UnicodeDecodeError, ValueError):
            doc, fingerprint = _INVALID, "raw:" + hashlib.sha256(body).hexdigest()

        def process() -> tuple[int, dict[str, Any]]:
            if content_type != "application/json":
                return 400, {"error": "unsupported_content_type"}
            if doc is _INVALID:
                return 400, {"error": "invalid_json"}
            return handle(doc, key)

        status, result = state.respond(key, path, fingerprint, process)
        return Response(status, result)

    def _get_customer(self, state: HomeriaState, query: dict[str, str]) -> Response:
        if not self._authorized(state):
            return Response(401, {"error": "unauthorized"})
        missing = [p for p in ("email", "brand", "country") if not query.get(p)]
        if missing:
            return Response(400, {"error": "missing_parameter", "field": missing[0]})
        found = state.lookup(query["brand"], query["country"], query["email"])
        if found is None:
            return Response(404, {"error": "customer_not_found"})
        return Response(200, {"customer_ref": found.customer_ref, "email": found.email,
                              **profiles.profile_of(found)})

    def _post_profile(self, state: HomeriaState, body: bytes) -> Response:
        if not self._authorized(state):
            return Response(401, {"error": "unauthorized"})
        problem = self._signature_error(state, body)
        if problem:
            return Response(401, {"error": problem})
        key = (self.headers.get("Idempotency-Key") or "").strip()
        if not key:
            return Response(400, {"error": "missing_idempotency_key"})
        error, doc = None, None
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            error = 400, {"error": "unsupported_content_type"}
        else:
            try:
                doc = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                doc = None
            if not isinstance(doc, dict):
                error = 400, {"error": "invalid_json"}
            else:
                bad = profiles.invalid_field(
                    doc, _country_codes(), lambda v: len(v) <= 254 and bool(EMAIL_RE.match(v)),
                    lambda v: bool(BRAND_RE.match(v)))
                if bad:
                    error = 422, {"error": "invalid_payload", "field": bad}
        status, result = profiles.apply(state, key, body, doc, error)
        return Response(status, result)

    def _control(self, method: str, path: str, body: bytes) -> Response:
        state: HomeriaState = self.server.state
        query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
        try:
            if path == "/_control/seed" and method == "POST":
                docs = json.loads(body or b"[]")
                docs = [docs] if isinstance(docs, dict) else docs
                return Response(200, [asdict(state.seed(**d)) for d in docs])
            if path == "/_control/customers" and method == "DELETE":
                state.reset()
                return Response(204)
            if path == "/_control/customers":
                return Response(200, [asdict(c) for c in state.customers()])
            if path == "/_control/applied":
                return Response(200, [a for a in state.applied_changes
                                      if all(str(a.get(k)) == v for k, v in query.items())])
            if path == "/_control/keys":
                kept = state.kept_results()
                if "key" in query:
                    kept = {k: v for k, v in kept.items() if k == query["key"]}
                return Response(200, kept)
            if path == "/_control/credentials" and method == "POST":
                doc = json.loads(body or b"{}")
                state.api_token = doc.get("api_token", state.api_token)
                state.signing_secret = doc.get("signing_secret", state.signing_secret)
                return Response(200, {"ok": True})
        except (ValueError, TypeError) as exc:
            return Response(400, {"error": str(exc)})
        return super()._control(method, path, body)


class HomeriaServer(StandInServer):
    """Adds one JSON log line per answered request (path only: the query holds emails)."""

    def record(self, entry: LoggedRequest) -> None:
        super().record(entry)
        log.info("homeria_standin.request", method=entry.method,
                 path=urlsplit(entry.path).path, status=entry.status,
                 latency_ms=round(entry.latency_ms, 1),
                 idempotency_key=entry.headers.get("Idempotency-Key"))


def seed_demo(state: HomeriaState, count: int = 10, brands: Iterable[str] = ("acme", "globex"),
              countries: Iterable[str] = ("ES", "FR")) -> dict[str, dict[str, int]]:
    """customer{n}@example.com, n = 1..count, in every (brand, country); returns the shape."""
    shape: dict[str, dict[str, int]] = {}
    for brand in brands:
        for country in countries:
            for n in range(1, count + 1):
                state.seed(brand, country, f"customer{n}@example.com",
                           f"HC-{brand.upper()}-{country}-{1000 + n}")
            shape.setdefault(brand, {})[country] = count
    return shape


def serve(port: int = 0, token: str = DEFAULT_TOKEN, secret: str = DEFAULT_SECRET,
          faults: Faults | None = None, seed: Iterable[Mapping[str, Any]] | None = None,
          host: str = "127.0.0.1") -> RunningStandIn:
    """Start the stand-in on a background thread. `seed`: dicts of `HomeriaState.seed` args."""
    state = HomeriaState(token, secret)
    for customer in seed or ():
        state.seed(**customer)
    return RunningStandIn(HomeriaServer((host, port), HomeriaHandler, faults=faults, state=state))


def main(argv: list[str] | None = None) -> int:
    parser = standin_parser("homeria", "Homeria API stand-in (docs/contracts/homeria.md)", 8091)
    parser.add_argument("--token", default=os.environ.get("HOMERIA_API_TOKEN", DEFAULT_TOKEN))
    parser.add_argument("--secret",
                        default=os.environ.get("HOMERIA_SIGNING_SECRET", DEFAULT_SECRET))
    parser.add_argument("--seed-demo", action="store_true",
                        help="seed customer{n}@example.com for acme/globex in ES/FR")
    parser.add_argument("--seed-count", type=int, default=10)
    args = parser.parse_args(argv)
    state = HomeriaState(args.token, args.secret)
    shape = seed_demo(state, args.seed_count) if args.seed_demo else {}
    return run_standin("homeria", args, HomeriaHandler, state=state,
                       env_prefix=("HOMERIA_STANDIN_", "STANDIN_"), server_cls=HomeriaServer,
                       seeded=shape)
