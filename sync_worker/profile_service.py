"""Delivering one profile change to Homeria: claim under lock, call, record under lock.

The same shape as the email sync (service.py) and the same rules: never a transaction
open across the HTTP call; the claim and its turn checks (`claims.py`), the send with its
breaker and rate limit, the outcome and the replay (`delivery.py`) are shared steps; a
finished change hands the customer's slot to the next change of either kind.

Claiming, with the customer's row locked: the change must be the customer's active one,
due, and not being sent by another worker. Unless its body is frozen already, the pending
profile changes queued right behind it (up to the first email change: merging past it
would reorder) are merged field by field into the latest of them, which carries the lot
under its own id; the others become `superseded`. The body is then frozen: retries resend
the same bytes under the same Idempotency-Key. A dead letter replayed is delivered again
under a fresh key (`delivery` + 1): Homeria keeps a key's first 404/422 for 30 days.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from relay.db import Tx
from sync_worker import claims, delivery, profile_store, store
from sync_worker.breaker import Permit
from sync_worker.claims import Claimed, lease_end
from sync_worker.client import Synced
from sync_worker.delivery import Result
from sync_worker.payload import delivery_key
from sync_worker.profile_models import merge, wire_body
from sync_worker.runtime import runtime


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
    return delivery.send(KIND, claim, lambda: rt.client.send_profile_change(
        claim.change_id, claim.idempotency_key, claim.body))


def claim_change(change_id: uuid.UUID, gate, token: uuid.UUID) -> Claim | str:
    """Step 1 (`claims.claim`, under the customer's lock)."""
    return claims.claim(
        profile_store, change_id, gate, queue=profile_store.queue, not_active=_not_active,
        freeze=lambda tx, key, queue, index, permit: _freeze(tx, key, queue, index, permit,
                                                             token))


def _not_active(tx: Tx, key: dict, active: uuid.UUID | None, queue: list[dict]) -> str:
    """A message for a waiting change: leave it parked. Repairs a lost slot pointer (the
    queue holds the customer's open changes of both kinds)."""
    if active is None or all(c["id"] != active for c in queue):
        store.advance(tx, key)
        return "slot_repaired"
    return "waiting"


def _freeze(tx: Tx, key: dict, queue: list[dict], index: int, permit: Permit,
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
                         sent_changes=sent, claim_token=token, claimed_until=lease_end(),
                         carried_count=carrier["carried_count"] + len(carried))
    if carried:
        claims.carry(tx, profile_store, key, carrier["id"], carried)
    body = wire_body(carrier["id"], email, key["brand"], key["country"],
                     carrier["requested_at"], sent)
    return Claim(carrier["id"], token, key, body,
                 idempotency_key(carrier["id"], row["delivery"]), tuple(carried), permit)


def _synced(claim: Claimed, result: Synced, started: datetime) -> str:
    return delivery.record_synced(profile_store, claim, result, started)


KIND = delivery.Kind(profile_store, _synced)


def record(claim: Claim, result: Result, started: datetime) -> str:
    """Record the attempt and act on its outcome (`delivery.record`)."""
    return delivery.record(KIND, claim, result, started)


def replay(tx: Tx, change_id: uuid.UUID) -> None:
    """Dead-letter replayer (`delivery.replay`): pending again, waiting its turn per
    customer, with the same frozen fields; a fresh Idempotency-Key only after a permanent
    answer (Homeria answers a key's first 404/422 again for 30 days)."""
    delivery.replay(profile_store, tx, change_id)
