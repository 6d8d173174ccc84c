"""Claiming a change for sending, the steps both kinds (email, profile) share.

`claim`, in one transaction with the customer's row locked: is the change open, the
customer's active one, and its `turn` — not being sent by another worker, due, and let
through by the breaker? The kind's `freeze` then fixes the batch (`carry`: the changes it
absorbs become `superseded`, carried by the latest) and takes a short lease on it
(`lease_end`). `release` gives a claim back unsent. The kinds' own rules — which changes
a batch merges, what goes on the wire — stay in service.py and profile_service.py.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from relay import outbox
from relay.db import Tx, transaction
from relay.logs import get_logger
from sync_worker import store
from sync_worker.breaker import Permit
from sync_worker.runtime import runtime

log = get_logger(__name__)

EARLY_TOLERANCE_S = 1.0   # a message this early is rescheduled; earlier ones are stale


class ChangeRows(Protocol):
    """A kind's table of changes: `sync_worker.store` or `sync_worker.profile_store`."""

    KIND: str

    def get(self, conn, change_id: uuid.UUID) -> dict | None: ...
    def update(self, tx: Tx, change_id: uuid.UUID, **fields) -> None: ...
    def lock_customer_of(self, tx: Tx, change_id: uuid.UUID) -> dict | None: ...
    def supersede(self, tx: Tx, carrier: uuid.UUID, carried: list[uuid.UUID]) -> None: ...


class Claimed(Protocol):
    """What the shared steps read of a kind's claim."""

    change_id: uuid.UUID      # the carrier: the change Homeria sees
    token: uuid.UUID
    key: dict
    permit: Permit

    @property
    def idempotency_key(self) -> str: ...


def claim(rows: ChangeRows, change_id: uuid.UUID, gate: Callable[[], Permit], *,
          queue: Callable[[Tx, dict], list[dict]],
          not_active: Callable[[Tx, dict, uuid.UUID | None, list[dict]], str],
          freeze: Callable[[Tx, dict, list[dict], int, Permit], Claimed]) -> Claimed | str:
    """Step 1, the careful way, in one transaction with the customer's row locked: the
    change must be open (in the kind's `queue` of the customer's open changes), the
    customer's active one (else `not_active` says why, repairing a lost slot pointer), and
    its `turn`; `freeze` then makes its batch and takes the claim. `gate()` -> Permit is the
    breaker, asked only for sendable changes. The claim, or why there is none."""
    with transaction() as tx:
        slot = rows.lock_customer_of(tx, change_id)
        if slot is None:
            return "unknown"
        key = store.key_of(slot)
        changes = queue(tx, key)
        index = next((i for i, c in enumerate(changes) if c["id"] == change_id), None)
        if index is None:
            return "finished"
        if slot["active_change"] != change_id:
            return not_active(tx, key, slot["active_change"], changes)
        permit = turn(tx, change_id, changes[index], gate)
        if isinstance(permit, str):
            return permit
        return freeze(tx, key, changes, index, permit)


def turn(tx: Tx, change_id: uuid.UUID, me: dict, gate: Callable[[], Permit]) -> Permit | str:
    """The customer's active change: may it be sent now? The permit, or why not (busy,
    stale, early — rescheduled — or breaker_open — deferred without spending an attempt)."""
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
    return permit


def carry(tx: Tx, rows: ChangeRows, key: dict, carrier: uuid.UUID,
          carried: list[uuid.UUID]) -> None:
    """The batch's earlier changes are done, carried by `carrier`, which takes the slot."""
    rows.supersede(tx, carrier, carried)
    for change_id in carried:
        outbox.complete(tx, change_id)
    store.set_active(tx, key, carrier)
    outbox.wake(tx, carrier)  # its row is now the one in flight
    log.info(f"{rows.KIND}.coalesced", carrier=str(carrier), carried=len(carried))


def lease_end() -> datetime:
    return datetime.fromtimestamp(time.time() + runtime().policy.claim_lease_s, UTC)


def release(rows: ChangeRows, claim: Claimed, delay_s: float) -> None:
    """Give a claim back unsent (no rate-limit token): try again after `delay_s`."""
    with transaction() as tx:
        store.lock_customer(tx, claim.key).fetchone()
        row = rows.get(tx.conn, claim.change_id)
        if row is None or row["claim_token"] != claim.token:
            return
        rows.update(tx, claim.change_id, claim_token=None, claimed_until=None)
        outbox.retry_in(tx, claim.change_id, delay_s, reason="rate_limit")
