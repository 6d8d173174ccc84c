"""Delivering one email change to Homeria: claim under lock, call, record under lock.

`deliver(change_id)` is what the task calls. It never holds a transaction open across
the HTTP call:

1. claim. The common case is one UPDATE (`store.fast_claim`): the change is its
   customer's active one, due, unclaimed, with nothing queued behind it. Otherwise the
   careful way, in one transaction with the customer row locked: is this message's change
   the customer's active one, due, and not being sent by another worker right now? Is the
   breaker letting calls through? If so, freeze the batch — the active change plus the pending
   changes queued behind it, sent as ONE change `earliest.current_email -> latest.new_email`
   under the latest change's id, the others marked `superseded` (carried_by) — and take a
   short claim lease on it.
2. wait for a rate-limit token (or give the claim back and retry shortly), then POST.
3. record (one transaction, customer row locked): the attempt, then synced / dead letter /
   retry later, following `errors.py`'s outcome; a finished change hands the customer's
   slot to the next pending change.

A batch is frozen once claimed: retries and dead-letter replays resend exactly the same
body (Homeria answers 422 to a key reused with a new body). Retries reuse the key of the
change's delivery generation — a sent-but-unanswered request may already have been
applied, and Homeria answers its kept 200 — while a replay after a permanent answer moves
to the next generation's key (`replay`, `payload.delivery_key`).
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
from sync_worker.payload import EmailChangePayload, delivery_key
from sync_worker.runtime import runtime

log = get_logger(__name__)

EARLY_TOLERANCE_S = 1.0   # a message this early is rescheduled; earlier ones are stale


@dataclass(frozen=True)
class Claim:
    change_id: uuid.UUID      # the carrier: its id is the Idempotency-Key
    token: uuid.UUID
    key: dict
    payload: EmailChangePayload
    carried: tuple[uuid.UUID, ...]
    permit: Permit


def deliver(change_id: uuid.UUID) -> str:
    """Process one task message. Returns what happened (for logs and tests)."""
    rt = runtime()
    token = uuid.uuid4()
    permit = rt.breaker.allow(str(token))
    claim = _fast_claim(change_id, token, permit) if permit.allowed else None
    if claim is None:
        claim = claim_change(change_id, lambda: permit if permit.allowed
                             else rt.breaker.allow(str(token)), token)
        if isinstance(claim, str):
            if permit.is_probe:
                rt.breaker.release_probe(str(token))
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
    result = rt.client.send_change(claim.payload)
    opened = _update_breaker(result, claim.permit)
    outcome = record(claim, result, started)
    if opened and result.outcome is Outcome.AUTH:
        alerts.alert("homeria.auth", "Homeria rejects relay's credentials",
                     f"Homeria answered {result.status_code} ({result.reason}) to an email "
                     "change. The breaker is open; changes wait (none are dead-lettered). "
                     "Check HOMERIA_API_TOKEN / HOMERIA_SIGNING_SECRET and the clock.",
                     severity="critical",
                     fields={"status_code": result.status_code, "reason": result.reason})
    return outcome


def _fast_claim(change_id: uuid.UUID, token: uuid.UUID, permit: Permit) -> Claim | None:
    row = store.fast_claim(change_id, token, _now(), _lease_end())
    if row is None:
        return None
    return Claim(change_id, token, store.key_of(row), _payload(row, row["sent_current_email"]),
                 (), permit)


def _payload(carrier: dict, sent_current: str) -> EmailChangePayload:
    return EmailChangePayload(
        change_id=carrier["id"], current_email=sent_current, new_email=carrier["new_email"],
        brand=carrier["brand"], country=carrier["country"],
        requested_at=carrier["requested_at"], delivery=carrier["delivery"])


def claim_change(change_id: uuid.UUID, gate, token: uuid.UUID | None = None) -> Claim | str:
    """Step 1, the careful way (under the customer's lock): works out why a change cannot
    be claimed, repairs, defers, or coalesces. `gate()` -> Permit is the breaker, asked
    only for sendable changes."""
    with transaction() as tx:
        slot = store.lock_customer_of(tx, change_id)
        if slot is None:
            return "unknown"
        key = store.key_of(slot)
        changes = store.open_changes(tx, key)
        index = next((i for i, c in enumerate(changes) if c["id"] == change_id), None)
        if index is None:
            return "finished"
        me = changes[index]
        if slot["active_change"] != change_id:
            return _not_active(tx, key, slot["active_change"], changes)
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
            wait = permit.wait_s + random.uniform(0, 0.5)
            outbox.retry_in(tx, change_id, wait, reason=f"breaker_{permit.state}")
            return "breaker_open"
        return _freeze(tx, key, changes, index, permit, token or uuid.uuid4())


def _not_active(tx, key: dict, active: uuid.UUID | None, changes: list[dict]) -> str:
    """A message for a waiting change: leave it parked. Repairs a lost slot pointer (the
    slot may also hold a profile change: they share the customer's order)."""
    if active is None or (all(c["id"] != active for c in changes)
                          and not profile_store.is_open(tx, active)):
        store.advance(tx, key)
        return "slot_repaired"
    return "waiting"


def _freeze(tx, key: dict, changes: list[dict], index: int, permit: Permit,
            token: uuid.UUID) -> Claim:
    me = changes[index]
    batch = [me]
    if me["sent_current_email"] is None:
        # never merge past a profile change queued between: it goes with the email
        # Homeria holds at its turn
        boundary = profile_store.next_open_seq(tx, key, me["seq"])
        for later in changes[index + 1:]:
            if later["state"] != "pending" or later["sent_current_email"] is not None \
                    or (boundary is not None and later["seq"] > boundary):
                break
            batch.append(later)
    carrier, carried = batch[-1], [c["id"] for c in batch[:-1]]
    sent_current = me["sent_current_email"] or me["current_email"]
    store.update(tx, carrier["id"], state="in_flight", sent_current_email=sent_current,
                 claim_token=token, claimed_until=_lease_end(),
                 carried_count=carrier["carried_count"] + len(carried))
    if carried:
        tx.execute(
            """UPDATE email_changes SET state = 'superseded', carried_by = %s,
                      finished_at = clock_timestamp(), claim_token = NULL,
                      claimed_until = NULL, updated_at = clock_timestamp()
               WHERE id = ANY(%s)""", (carrier["id"], carried))
        for cid in carried:
            outbox.complete(tx, cid)
        store.set_active(tx, key, carrier["id"])
        outbox.wake(tx, carrier["id"])  # its row is now the one in flight
        log.info("email_change.coalesced", carrier=str(carrier["id"]), carried=len(carried))
    return Claim(carrier["id"], token, key, _payload(carrier, sent_current), tuple(carried),
                 permit)


def _lease_end() -> datetime:
    return datetime.fromtimestamp(time.time() + runtime().policy.claim_lease_s, UTC)


def release(claim: Claim, delay_s: float) -> None:
    """Give a claim back unsent (no rate-limit token): try again after `delay_s`."""
    with transaction() as tx:
        store.lock_customer(tx, claim.key).fetchone()
        row = store.get(tx.conn, claim.change_id)
        if row is None or row["claim_token"] != claim.token:
            return
        store.update(tx, claim.change_id, claim_token=None, claimed_until=None)
        outbox.retry_in(tx, claim.change_id, delay_s, reason="rate_limit")


def _update_breaker(result: SendResult, permit: Permit) -> bool:
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


def record(claim: Claim, result: SendResult, started: datetime) -> str:
    """Step 3: record the attempt and act on its outcome, under the customer's lock."""
    policy = runtime().policy
    metrics.homeria_requests_total.labels(str(result.outcome), result.reason).inc()
    metrics.homeria_latency_seconds.observe(result.latency_ms / 1000)
    if result.outcome is Outcome.SYNCED:
        return _synced(claim, result, started)
    with transaction(pipeline=True) as tx:
        store.lock_customer(tx, claim.key)
        attempts.record(tx.conn, kind=store.KIND, entity_id=claim.change_id,
                        started_at=started, outcome=str(result.outcome),
                        latency_ms=round(result.latency_ms, 2), status_code=result.status_code,
                        detail=result.reason,
                        idempotency_key=str(claim.payload.idempotency_key))
        row = store.get(tx.conn, claim.change_id)
        if row["claim_token"] != claim.token:
            return "claim_lost"  # another worker re-claimed it after our lease ran out
        last = {"claim_token": None, "claimed_until": None, "last_outcome": result.reason,
                "last_status_code": result.status_code}
        if result.outcome is Outcome.PERMANENT:
            return _dead(tx, claim, row, result.reason, result, last)
        if result.outcome is Outcome.AUTH:
            store.update(tx, claim.change_id, **last)
            wait = policy.breaker_cooldown_s + random.uniform(0, 1.0)
            return f"auth_retry_{outbox.retry_in(tx, claim.change_id, wait, 'auth')}"
        first_failure = row["first_failure_at"] or _now()
        if (_now() - first_failure).total_seconds() >= policy.give_up_s:
            return _dead(tx, claim, row, "max_age", result, last)
        delay = retry_delay(result, row["failures"], base=policy.retry_base_s,
                            cap=policy.retry_max_s)
        store.update(tx, claim.change_id, failures=row["failures"] + 1,
                     first_failure_at=first_failure, **last)
        how = outbox.retry_in(tx, claim.change_id, delay, reason=result.reason)
        log.info("email_change.retry", change_id=str(claim.change_id), reason=result.reason,
                 status_code=result.status_code, delay_s=round(delay, 3), how=how)
        return f"retry_{how}"


def _synced(claim: Claim, result: SendResult, started: datetime) -> str:
    """The common outcome, in one statement (store.finish_synced): it is most of the
    worker's database time, so it does not go statement by statement like the rare ones."""
    done = store.finish_synced(claim.change_id, claim.token, customer_ref=result.customer_ref,
                               reason=result.reason, status_code=result.status_code,
                               started_at=started, latency_ms=round(result.latency_ms, 2),
                               idempotency_key=claim.payload.idempotency_key)
    if done["outcome"] == "synced":
        metrics.email_change_sync_seconds.observe(float(done["age_s"]))
    return done["outcome"]


def _dead(tx, claim: Claim, row: dict, reason: str, result: SendResult, last: dict) -> str:
    store.update(tx, claim.change_id, state="dead", finished_at=_now(), **last)
    outbox.complete(tx, claim.change_id)
    deadletters.record(tx, kind=store.KIND, entity_id=claim.change_id, reason=reason,
                       status_code=result.status_code, error=result.detail or result.reason,
                       attempts=attempts.count(tx.conn, claim.change_id),
                       brand=row["brand"], country=row["country"])
    store.advance(tx, claim.key)
    return "dead"


def replay(tx, change_id: uuid.UUID) -> None:
    """Dead-letter replayer: the change is pending again and waits its turn per customer.

    Its frozen body is kept. Its key: if Homeria answered the current key with a permanent
    error, it keeps that answer for 30 days, so the change moves to the next delivery
    generation (a fresh key, derived from the change). Otherwise — it gave up after
    transient failures, timeouts or lost answers — the key is kept: if one of those
    requests was applied, Homeria answers the kept 200 and applies nothing twice.
    """
    slot = store.lock_customer_of(tx, change_id)
    row = store.get(tx.conn, change_id)
    if slot is None or row is None:
        raise NotFound(f"email change {change_id} does not exist")
    if row["state"] != "dead":
        return
    key = delivery_key(change_id, row["delivery"])
    spent = store.key_holds_permanent_answer(tx, change_id, key)
    store.update(tx, change_id, state="pending", finished_at=None, claim_token=None,
                 claimed_until=None, failures=0, first_failure_at=None,
                 delivery=row["delivery"] + 1 if spent else row["delivery"])
    log.info("email_change.replayed", change_id=str(change_id),
             delivery=row["delivery"] + 1 if spent else row["delivery"], new_key=spent)
    if not outbox.reopen(tx, change_id):
        raise NotFound(f"email change {change_id} has no outbox row to reopen")
    if slot["active_change"] is None:
        store.set_active(tx, store.key_of(slot), change_id)
    else:
        outbox.park_until(tx, change_id, None, "waiting")


def _now() -> datetime:
    return datetime.now(UTC)
