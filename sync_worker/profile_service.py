"""Delivering one profile change to Homeria: claim under lock, call, record under lock.

The same shape as the email sync (service.py) and the same rules: never a transaction
open across the HTTP call; the breaker, the rate limit and the retry policy are shared;
a finished change hands the customer's slot to the next change of either kind.

Claiming, with the customer's row locked: the change must be the customer's active one,
due, and not being sent by another worker. Unless its body is frozen already, the pending
profile changes queued right behind it (up to the first email change: merging past it
would reorder) are merged field by field into the latest of them, which carries the lot
under its own id; the others become `superseded`. The body is then frozen: retries resend
the same bytes under the same Idempotency-Key. A dead letter replayed is delivered again
under a fresh key (`delivery` + 1): Homeria keeps a key's first 404/422 for 30 days.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from relay import alerts, attempts, deadletters, metrics, outbox
from relay.db import transaction
from relay.errors import NotFound
from relay.logs import get_logger
from sync_worker import profile_store, store
from sync_worker.breaker import Permit
from sync_worker.client import SendResult
from sync_worker.errors import Outcome, retry_delay
from sync_worker.payload import delivery_key
from sync_worker.profile_models import merge, wire_body
from sync_worker.runtime import runtime
from sync_worker.service import EARLY_TOLERANCE_S, _update_breaker

log = get_logger(__name__)



def idempotency_key(change_id: uuid.UUID, delivery: int) -> str:
    """The change id for its first delivery; a key derived from (id, n) for the n-th
    deliberate re-delivery: stable across retries of that delivery, new for the next
    (the same derivation as email changes: payload.delivery_key)."""
    return str(delivery_key(change_id, delivery))


@dataclass(frozen=True)
class Claim:
    change_id: uuid.UUID
    token: uuid.UUID
    key: dict
    body: bytes
    idempotency_key: str
    carried: tuple[uuid.UUID, ...]
    permit: Permit


def deliver(change_id: uuid.UUID) -> str:
    """Process one task message. Returns what happened (for logs and tests)."""
    rt = runtime()
    token = uuid.uuid4()
    claim = claim_change(change_id, lambda: rt.breaker.allow(str(token)), token)
    if isinstance(claim, str):
        return claim
    grant = rt.bucket.take(max_wait_s=rt.policy.max_token_wait_s)
    if not grant.granted:
        if claim.permit.is_probe:
            rt.breaker.release_probe(str(token))
        release(claim, grant.wait_s + random.uniform(0, 0.2))
        return "rate_limited_locally"
    if grant.wait_s:
        time.sleep(grant.wait_s)
    started = datetime.now(UTC)
    result = rt.client.send_profile_change(claim.change_id, claim.idempotency_key, claim.body)
    opened = _update_breaker(result, claim.permit)
    outcome = record(claim, result, started)
    if opened and result.outcome is Outcome.AUTH:
        alerts.alert("homeria.auth", "Homeria rejects relay's credentials",
                     f"Homeria answered {result.status_code} ({result.reason}) to a profile "
                     "change. The breaker is open; changes wait (none are dead-lettered).",
                     severity="critical",
                     fields={"status_code": result.status_code, "reason": result.reason})
    return outcome


def claim_change(change_id: uuid.UUID, gate, token: uuid.UUID) -> Claim | str:
    with transaction() as tx:
        slot = profile_store.lock_customer_of(tx, change_id)
        if slot is None:
            return "unknown"
        key = store.key_of(slot)
        queue = profile_store.queue(tx, key)
        index = next((i for i, c in enumerate(queue) if c["id"] == change_id), None)
        if index is None:
            return "finished"
        me = queue[index]
        if slot["active_change"] != change_id:
            if slot["active_change"] is None or all(c["id"] != slot["active_change"]
                                                    for c in queue):
                store.advance(tx, key)
                return "slot_repaired"
            return "waiting"
        if me["claimed_until"] is not None and me["claimed_until"] > datetime.now(UTC):
            return "busy"
        due_in = float(me["due_in_s"] or 0)
        if due_in > 0:
            if due_in > EARLY_TOLERANCE_S:
                return "stale"
            outbox.retry_in(tx, change_id, due_in, reason="early")
            return "early"
        permit = gate()
        if not permit.allowed:
            outbox.retry_in(tx, change_id, permit.wait_s + random.uniform(0, 0.5),
                            reason=f"breaker_{permit.state}")
            return "breaker_open"
        return _freeze(tx, key, queue, index, permit, token)


def _freeze(tx, key: dict, queue: list[dict], index: int, permit: Permit,
            token: uuid.UUID) -> Claim:
    me = queue[index]
    batch = [me]
    if me["sent_changes"] is None:
        for later in queue[index + 1:]:
            if later["kind"] != "profile" or later["state"] != "pending" \
                    or later["sent_changes"] is not None:
                break
            batch.append(later)
    carrier, carried = batch[-1], [c["id"] for c in batch[:-1]]
    sent = me["sent_changes"] or merge([profile_store.as_json(c["changes"]) for c in batch])
    row = profile_store.get(tx.conn, carrier["id"])
    email = row["sent_email"] or me["email"]
    profile_store.update(tx, carrier["id"], state="in_flight", sent_email=email,
                         sent_changes=sent, claim_token=token, claimed_until=_lease_end(),
                         carried_count=carrier["carried_count"] + len(carried))
    if carried:
        tx.execute(
            """UPDATE profile_changes SET state = 'superseded', carried_by = %s,
                      finished_at = clock_timestamp(), claim_token = NULL,
                      claimed_until = NULL, updated_at = clock_timestamp()
               WHERE id = ANY(%s)""", (carrier["id"], carried))
        for cid in carried:
            outbox.complete(tx, cid)
        store.set_active(tx, key, carrier["id"])
        outbox.wake(tx, carrier["id"])
        log.info("profile_change.coalesced", carrier=str(carrier["id"]), carried=len(carried))
    body = wire_body(carrier["id"], email, key["brand"], key["country"],
                     carrier["requested_at"], sent)
    return Claim(carrier["id"], token, key, body,
                 idempotency_key(carrier["id"], row["delivery"]), tuple(carried), permit)


def _lease_end() -> datetime:
    return datetime.fromtimestamp(time.time() + runtime().policy.claim_lease_s, UTC)


def release(claim: Claim, delay_s: float) -> None:
    """Give a claim back unsent: try again after `delay_s`."""
    with transaction() as tx:
        store.lock_customer(tx, claim.key).fetchone()
        row = profile_store.get(tx.conn, claim.change_id)
        if row is None or row["claim_token"] != claim.token:
            return
        profile_store.update(tx, claim.change_id, claim_token=None, claimed_until=None)
        outbox.retry_in(tx, claim.change_id, delay_s, reason="rate_limit")


def record(claim: Claim, result: SendResult, started: datetime) -> str:
    """Record the attempt and act on its outcome, under the customer's lock."""
    policy = runtime().policy
    metrics.homeria_requests_total.labels(str(result.outcome), result.reason).inc()
    metrics.homeria_latency_seconds.observe(result.latency_ms / 1000)
    with transaction() as tx:
        store.lock_customer(tx, claim.key).fetchone()
        attempts.record(tx.conn, kind=profile_store.KIND, entity_id=claim.change_id,
                        started_at=started, outcome=str(result.outcome),
                        latency_ms=round(result.latency_ms, 2), status_code=result.status_code,
                        detail=result.detail or result.reason,
                        idempotency_key=claim.idempotency_key)
        row = profile_store.get(tx.conn, claim.change_id)
        if row["claim_token"] != claim.token:
            return "claim_lost"
        last = {"claim_token": None, "claimed_until": None, "last_outcome": result.reason,
                "last_status_code": result.status_code}
        if result.outcome is Outcome.SYNCED:
            profile_store.update(tx, claim.change_id, state="synced", synced_at=_now(),
                                 finished_at=_now(), customer_ref=result.customer_ref, **last)
            outbox.complete(tx, claim.change_id)
            store.advance(tx, claim.key)
            return "synced"
        if result.outcome is Outcome.PERMANENT:
            return _dead(tx, claim, row, result.reason, result, last)
        if result.outcome is Outcome.AUTH:
            profile_store.update(tx, claim.change_id, **last)
            wait = policy.breaker_cooldown_s + random.uniform(0, 1.0)
            return f"auth_retry_{outbox.retry_in(tx, claim.change_id, wait, 'auth')}"
        first_failure = row["first_failure_at"] or _now()
        if (_now() - first_failure).total_seconds() >= policy.give_up_s:
            return _dead(tx, claim, row, "max_age", result, last)
        delay = retry_delay(result, row["failures"], base=policy.retry_base_s,
                            cap=policy.retry_max_s)
        profile_store.update(tx, claim.change_id, failures=row["failures"] + 1,
                             first_failure_at=first_failure, **last)
        how = outbox.retry_in(tx, claim.change_id, delay, reason=result.reason)
        log.info("profile_change.retry", change_id=str(claim.change_id), reason=result.reason,
                 status_code=result.status_code, delay_s=round(delay, 3), how=how)
        return f"retry_{how}"


def _dead(tx, claim: Claim, row: dict, reason: str, result: SendResult, last: dict) -> str:
    profile_store.update(tx, claim.change_id, state="dead", finished_at=_now(), **last)
    outbox.complete(tx, claim.change_id)
    deadletters.record(tx, kind=profile_store.KIND, entity_id=claim.change_id, reason=reason,
                       status_code=result.status_code, error=result.detail or result.reason,
                       attempts=attempts.count(tx.conn, claim.change_id),
                       brand=row["brand"], country=row["country"])
    store.advance(tx, claim.key)
    return "dead"


def replay(tx, change_id: uuid.UUID) -> None:
    """Dead-letter replayer: pending again, waiting its turn per customer, with the same
    frozen fields. After a permanent answer it goes under a fresh Idempotency-Key (Homeria
    answers a key's first 404/422 again for 30 days); after giving up on transient
    failures it keeps its key (one of those requests may have been applied: Homeria then
    answers the kept 200 and applies nothing twice)."""
    slot = profile_store.lock_customer_of(tx, change_id)
    row = profile_store.get(tx.conn, change_id)
    if slot is None or row is None:
        raise NotFound(f"profile change {change_id} does not exist")
    if row["state"] != "dead":
        return
    spent = store.key_holds_permanent_answer(tx, change_id,
                                             delivery_key(change_id, row["delivery"]))
    profile_store.update(tx, change_id, state="pending", finished_at=None, claim_token=None,
                         claimed_until=None, failures=0, first_failure_at=None,
                         delivery=row["delivery"] + (1 if spent else 0))
    if not outbox.reopen(tx, change_id):
        raise NotFound(f"profile change {change_id} has no outbox row to reopen")
    if slot["active_change"] is None:
        store.set_active(tx, store.key_of(slot), change_id)
    else:
        outbox.park_until(tx, change_id, None, "waiting")


def _now() -> datetime:
    return datetime.now(UTC)
