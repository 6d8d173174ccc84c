"""Delivering one profile change to Homeria: claim under lock, call, record under lock.

The same shape as the email sync (service.py) and the same rules: never a transaction
open across the HTTP call; the turn checks, the send with its breaker and rate limit, the
outcome and the replay are the shared steps of `delivery.py`; a finished change hands the
customer's slot to the next change of either kind.

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

from relay.db import Tx, transaction
from sync_worker import delivery, profile_store, store
from sync_worker.breaker import Permit
from sync_worker.client import Synced
from sync_worker.delivery import Result, lease_end
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
    with transaction() as tx:
        slot = profile_store.lock_customer_of(tx, change_id)
        if slot is None:
            return "unknown"
        key = store.key_of(slot)
        queue = profile_store.queue(tx, key)
        index = next((i for i, c in enumerate(queue) if c["id"] == change_id), None)
        if index is None:
            return "finished"
        if slot["active_change"] != change_id:
            if slot["active_change"] is None or all(c["id"] != slot["active_change"]
                                                    for c in queue):
                store.advance(tx, key)
                return "slot_repaired"
            return "waiting"
        permit = delivery.turn(tx, change_id, queue[index], gate)
        if isinstance(permit, str):
            return permit
        return _freeze(tx, key, queue, index, permit, token)


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
        delivery.carry(tx, profile_store, key, carrier["id"], carried)
    body = wire_body(carrier["id"], email, key["brand"], key["country"],
                     carrier["requested_at"], sent)
    return Claim(carrier["id"], token, key, body,
                 idempotency_key(carrier["id"], row["delivery"]), tuple(carried), permit)


def _synced(claim: delivery.Claimed, result: Synced, started: datetime) -> str:
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
