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

The careful claim (`claims.py`), steps 2 and 3 and replays (`delivery.py`) are shared
with profile changes; what is the email sync's own is here: the one-statement claim and
outcome of the common case, and which changes a batch coalesces.

A batch is frozen once claimed: retries and dead-letter replays resend exactly the same
body (Homeria answers 422 to a key reused with a new body). Retries reuse the key of the
change's delivery generation — a sent-but-unanswered request may already have been
applied, and Homeria answers its kept 200 — while a replay after a permanent answer moves
to the next generation's key (`replay`, `payload.delivery_key`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from relay import metrics
from relay.db import Tx
from sync_worker import claims, delivery, profile_store, store
from sync_worker.breaker import Permit
from sync_worker.claims import Claimed, lease_end
from sync_worker.client import Synced
from sync_worker.delivery import Result
from sync_worker.payload import EmailChangePayload
from sync_worker.runtime import runtime


@dataclass(frozen=True)
class Claim:
    change_id: uuid.UUID      # the carrier: its id is the Idempotency-Key
    token: uuid.UUID
    key: dict
    payload: EmailChangePayload
    carried: tuple[uuid.UUID, ...]
    permit: Permit

    @property
    def idempotency_key(self) -> str:
        return str(self.payload.idempotency_key)


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
    return delivery.send(KIND, claim, lambda: rt.client.send_change(claim.payload))


def _fast_claim(change_id: uuid.UUID, token: uuid.UUID, permit: Permit) -> Claim | None:
    row = store.fast_claim(change_id, token, datetime.now(UTC), lease_end())
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
    """Step 1, the careful way (`claims.claim`, under the customer's lock): works out why
    a change cannot be claimed, repairs, defers, or coalesces."""
    token = token or uuid.uuid4()
    return claims.claim(
        store, change_id, gate, queue=store.open_changes, not_active=_not_active,
        freeze=lambda tx, key, changes, index, permit: _freeze(tx, key, changes, index,
                                                               permit, token))


def _not_active(tx: Tx, key: dict, active: uuid.UUID | None, changes: list[dict]) -> str:
    """A message for a waiting change: leave it parked. Repairs a lost slot pointer (the
    slot may also hold a profile change: they share the customer's order)."""
    if active is None or (all(c["id"] != active for c in changes)
                          and not profile_store.is_open(tx, active)):
        store.advance(tx, key)
        return "slot_repaired"
    return "waiting"


def _freeze(tx: Tx, key: dict, changes: list[dict], index: int, permit: Permit,
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
                 claim_token=token, claimed_until=lease_end(),
                 carried_count=carrier["carried_count"] + len(carried))
    if carried:
        claims.carry(tx, store, key, carrier["id"], carried)
    return Claim(carrier["id"], token, key, _payload(carrier, sent_current), tuple(carried),
                 permit)


def release(claim: Claim, delay_s: float) -> None:
    """Give a claim back unsent (no rate-limit token): try again after `delay_s`."""
    claims.release(store, claim, delay_s)


def record(claim: Claim, result: Result, started: datetime) -> str:
    """Step 3: record the attempt and act on its outcome (`delivery.record`)."""
    return delivery.record(KIND, claim, result, started)


def _synced(claim: Claimed, result: Synced, started: datetime) -> str:
    """The common outcome, in one statement (store.finish_synced): it is most of the
    worker's database time, so it does not go statement by statement like the rare ones."""
    done = store.finish_synced(claim.change_id, claim.token, customer_ref=result.customer_ref,
                               reason=result.reason, status_code=result.status_code,
                               started_at=started, latency_ms=round(result.latency_ms, 2),
                               idempotency_key=claim.idempotency_key)
    if done["outcome"] == "synced":
        metrics.email_change_sync_seconds.observe(float(done["age_s"]))
    return done["outcome"]


KIND = delivery.Kind(store, _synced)


def replay(tx: Tx, change_id: uuid.UUID) -> None:
    """Dead-letter replayer (`delivery.replay`): pending again, in the customer's order;
    a fresh key only if Homeria keeps a permanent answer for the old one."""
    delivery.replay(store, tx, change_id)
