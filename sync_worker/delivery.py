"""Sending a claimed change and acting on Homeria's answer, for both kinds of change.

`service.py` (email changes) and `profile_service.py` (profile changes) claim a change
(`claims.py`) and decide what goes on the wire; the rest is the same for both and lives
here, once:

- `send`: a rate-limit token (or the claim given back), the call outside any transaction,
  the shared breaker fed, on-call alerted when bad credentials open it, the outcome
  recorded;
- `record`: the attempt and, under the customer's lock, what the answer does to the
  change — synced, dead letter, or retry later following `errors.retry_delay`;
- `replay`: a dead letter made pending again, under a fresh key if Homeria keeps a
  permanent answer for the old one.

The client returns `Synced` or raises a `HomeriaError`; `record` is the one function that
decides what either does to a change.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from relay import alerts, attempts, deadletters, metrics, outbox
from relay.db import Tx, transaction
from relay.errors import NotFound
from relay.logs import get_logger
from sync_worker import store
from sync_worker.breaker import Permit
from sync_worker.claims import ChangeRows, Claimed, release
from sync_worker.client import Synced
from sync_worker.errors import HomeriaError, Outcome, retry_delay
from sync_worker.payload import delivery_key
from sync_worker.runtime import runtime

log = get_logger(__name__)

Result = Synced | HomeriaError  # what a call to Homeria gives


@dataclass(frozen=True)
class Kind:
    rows: ChangeRows
    synced: Callable[[Claimed, Synced, datetime], str]   # records an applied change


def send(kind: Kind, claim: Claimed, call: Callable[[], Synced]) -> str:
    """Steps 2 and 3: wait for a rate-limit token (or give the claim back), call Homeria
    outside any transaction, feed the breaker, record. Returns what happened."""
    rt = runtime()
    grant = rt.bucket.take(max_wait_s=rt.policy.max_token_wait_s)
    if not grant.granted:
        if claim.permit.is_probe:
            rt.breaker.release_probe(str(claim.token))
        release(kind.rows, claim, grant.wait_s + random.uniform(0, 0.2))
        return "rate_limited_locally"
    if grant.wait_s:
        time.sleep(grant.wait_s)
    started = datetime.now(UTC)
    result: Result
    try:
        result = call()
    except HomeriaError as failure:
        result = failure
    opened = _update_breaker(result, claim.permit)
    outcome = record(kind, claim, result, started)
    if opened and result.outcome is Outcome.AUTH:
        alerts.alert("homeria.auth", "Homeria rejects relay's credentials",
                     f"Homeria answered {result.status_code} ({result.reason}) to relay's "
                     f"{kind.rows.KIND.replace('_', ' ')}. The breaker is open; changes wait "
                     "(none are dead-lettered). Check HOMERIA_API_TOKEN / "
                     "HOMERIA_SIGNING_SECRET and the clock.",
                     severity="critical",
                     fields={"status_code": result.status_code, "reason": result.reason})
    return outcome


def _update_breaker(result: Result, permit: Permit) -> bool:
    """Feed the shared breaker; True if this result opened it."""
    breaker = runtime().breaker
    if result.outcome in {Outcome.SYNCED, Outcome.PERMANENT}:
        if not permit.clean:
            breaker.record_success()
    elif result.outcome is Outcome.AUTH:
        return breaker.record_failure(result.reason, force_open=True)
    elif result.outcome is Outcome.TRANSIENT:
        return breaker.record_failure(result.reason, probe=permit.is_probe)
    elif permit.is_probe:  # a 429 still proves Homeria answers
        breaker.record_success()
    return False


def record(kind: Kind, claim: Claimed, result: Result, started: datetime) -> str:
    """Step 3: what Homeria's answer does to the change. The one place that decides."""
    metrics.homeria_requests_total.labels(str(result.outcome), result.reason).inc()
    metrics.homeria_latency_seconds.observe(result.latency_ms / 1000)
    if isinstance(result, Synced):
        return kind.synced(claim, result, started)
    return _failed(kind.rows, claim, result, started)


def _attempted(tx: Tx, rows: ChangeRows, claim: Claimed, result: Result,
               started: datetime) -> dict | None:
    """The attempt recorded under the customer's lock; the change's row, or None when
    another worker re-claimed it after our lease ran out."""
    store.lock_customer(tx, claim.key)
    attempts.record(tx.conn, kind=rows.KIND, entity_id=claim.change_id,
                    started_at=started, outcome=str(result.outcome),
                    latency_ms=round(result.latency_ms, 2), status_code=result.status_code,
                    detail=result.reason if isinstance(result, Synced)
                    else result.detail or result.reason,
                    idempotency_key=claim.idempotency_key)
    row = rows.get(tx.conn, claim.change_id)
    return row if row["claim_token"] == claim.token else None


def _last(result: Result) -> dict:
    return {"claim_token": None, "claimed_until": None, "last_outcome": result.reason,
            "last_status_code": result.status_code}


def record_synced(rows: ChangeRows, claim: Claimed, result: Synced, started: datetime) -> str:
    """An applied change, statement by statement (the email sync has a one-statement
    path of its own: `store.finish_synced`)."""
    with transaction(pipeline=True) as tx:
        if _attempted(tx, rows, claim, result, started) is None:
            return "claim_lost"
        now = _now()
        rows.update(tx, claim.change_id, state="synced", synced_at=now, finished_at=now,
                    customer_ref=result.customer_ref, **_last(result))
        outbox.complete(tx, claim.change_id)
        store.advance(tx, claim.key)
        return "synced"


def _failed(rows: ChangeRows, claim: Claimed, failure: HomeriaError, started: datetime) -> str:
    policy = runtime().policy
    with transaction(pipeline=True) as tx:
        row = _attempted(tx, rows, claim, failure, started)
        if row is None:
            return "claim_lost"
        last = _last(failure)
        if failure.outcome is Outcome.PERMANENT:
            return _dead(tx, rows, claim, row, failure.reason, failure, last)
        if failure.outcome is Outcome.AUTH:
            rows.update(tx, claim.change_id, **last)
            wait = policy.breaker_cooldown_s + random.uniform(0, 1.0)
            return f"auth_retry_{outbox.retry_in(tx, claim.change_id, wait, 'auth')}"
        first_failure = row["first_failure_at"] or _now()
        if (_now() - first_failure).total_seconds() >= policy.give_up_s:
            return _dead(tx, rows, claim, row, "max_age", failure, last)
        delay = retry_delay(failure, row["failures"], base=policy.retry_base_s,
                            cap=policy.retry_max_s)
        rows.update(tx, claim.change_id, failures=row["failures"] + 1,
                    first_failure_at=first_failure, **last)
        how = outbox.retry_in(tx, claim.change_id, delay, reason=failure.reason)
        log.info(f"{rows.KIND}.retry", change_id=str(claim.change_id), reason=failure.reason,
                 status_code=failure.status_code, delay_s=round(delay, 3), how=how)
        return f"retry_{how}"


def _dead(tx: Tx, rows: ChangeRows, claim: Claimed, row: dict, reason: str,
          failure: HomeriaError, last: dict) -> str:
    rows.update(tx, claim.change_id, state="dead", finished_at=_now(), **last)
    outbox.complete(tx, claim.change_id)
    deadletters.record(tx, kind=rows.KIND, entity_id=claim.change_id, reason=reason,
                       status_code=failure.status_code, error=failure.detail or failure.reason,
                       attempts=attempts.count(tx.conn, claim.change_id),
                       brand=row["brand"], country=row["country"])
    store.advance(tx, claim.key)
    return "dead"


def replay(rows: ChangeRows, tx: Tx, change_id: uuid.UUID) -> None:
    """Dead-letter replayer: the change is pending again and waits its turn per customer.

    Its frozen body is kept. Its key: if Homeria answered the current key with a permanent
    error, it keeps that answer for 30 days, so the change moves to the next delivery
    generation (a fresh key, derived from the change). Otherwise — it gave up after
    transient failures, timeouts or lost answers — the key is kept: if one of those
    requests was applied, Homeria answers the kept 200 and applies nothing twice.
    """
    noun = rows.KIND.replace("_", " ")
    slot = rows.lock_customer_of(tx, change_id)
    row = rows.get(tx.conn, change_id)
    if slot is None or row is None:
        raise NotFound(f"{noun} {change_id} does not exist")
    if row["state"] != "dead":
        return
    spent = store.key_holds_permanent_answer(tx, change_id,
                                             delivery_key(change_id, row["delivery"]))
    generation = row["delivery"] + 1 if spent else row["delivery"]
    rows.update(tx, change_id, state="pending", finished_at=None, claim_token=None,
                claimed_until=None, failures=0, first_failure_at=None, delivery=generation)
    log.info(f"{rows.KIND}.replayed", change_id=str(change_id), delivery=generation,
             new_key=spent)
    if not outbox.reopen(tx, change_id):
        raise NotFound(f"{noun} {change_id} has no outbox row to reopen")
    if slot["active_change"] is None:
        store.set_active(tx, store.key_of(slot), change_id)
    else:
        outbox.park_until(tx, change_id, None, "waiting")


def _now() -> datetime:
    return datetime.now(UTC)
