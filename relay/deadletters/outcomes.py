"""What became of replayed dead letters: delivered, dead-lettered again, or still pending.

A replay only puts work back on the normal path (outbox -> broker -> task); whether it
then worked is the question on-call actually asks. `wait(results, timeout)` polls the
store until every replayed entity has finished or the time is up, and says, per entity:

    delivered   its work is done (`state`: synced, sent, ...)
    dead_again  it gave up again: a new open dead letter (with its reason)
    pending     not finished yet (waiting its turn, retrying, or no worker running)
    finished    done without being delivered (e.g. a notification suppressed)

Kind-agnostic by default: "done" is the outbox row's `done_at`, "dead again" an open dead
letter for the entity. A package may `register_states(kind, table, delivered=...)` so the
report names the entity's own state and tells delivered from merely finished.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from relay.db import connection

OUTCOMES = ("delivered", "dead_again", "pending", "finished")
DEFAULT_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class _States:
    table: str                 # a table with `id uuid` and `state text` columns
    delivered: frozenset[str]


_states: dict[str, _States] = {}


def register_states(kind: str, table: str, *, delivered: Iterable[str]) -> None:
    """Name where `kind`'s entities keep their state and which states mean delivered."""
    _states[kind] = _States(table, frozenset(delivered))


@dataclass(frozen=True)
class Outcome:
    id: int                    # the dead letter that was replayed
    kind: str
    entity_id: str
    outcome: str               # one of OUTCOMES
    state: str | None = None   # the entity's own state, where its kind registered one
    reason: str | None = None  # dead_again: the new dead letter's reason
    dead_letter_id: int | None = None  # dead_again: the new dead letter

    def as_dict(self) -> dict:
        return asdict(self)


def current(replayed: list[tuple[int, str, str]]) -> list[Outcome]:
    """Outcomes now of (dead_letter_id, kind, entity_id) triples, in the same order."""
    if not replayed:
        return []
    entities = list({uuid.UUID(e) for _, _, e in replayed})
    with connection() as conn:
        done = {r["entity_id"]: r["done_at"] is not None for r in conn.execute(
            "SELECT entity_id, done_at FROM outbox WHERE entity_id = ANY(%s)", (entities,))}
        dead = {(r["kind"], r["entity_id"]): r for r in conn.execute(
            """SELECT id, kind, entity_id, reason FROM dead_letters
               WHERE state = 'open' AND entity_id = ANY(%s)""", (entities,))}
        states: dict[uuid.UUID, str] = {}
        for kind in {k for _, k, _ in replayed if k in _states}:
            spec = _states[kind]
            states.update((r["id"], r["state"]) for r in conn.execute(
                f"SELECT id, state FROM {spec.table} WHERE id = ANY(%s)", (entities,)))
        conn.commit()
    out = []
    for dl_id, kind, entity in replayed:
        eid = uuid.UUID(entity)
        state = states.get(eid)
        again = dead.get((kind, eid))
        if again is not None:
            out.append(Outcome(dl_id, kind, entity, "dead_again", state, again["reason"],
                               again["id"]))
        elif not done.get(eid, False):
            out.append(Outcome(dl_id, kind, entity, "pending", state))
        elif kind in _states and state not in _states[kind].delivered:
            out.append(Outcome(dl_id, kind, entity, "finished", state))
        else:
            out.append(Outcome(dl_id, kind, entity, "delivered", state))
    return out


def wait(replayed: list[tuple[int, str, str]], timeout: float, *, interval: float = 0.5,
         on_poll: Callable[[list[Outcome]], None] | None = None) -> list[Outcome]:
    """Poll `current()` until nothing is pending or `timeout` seconds have passed."""
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        outcomes = current(replayed)
        if on_poll:
            on_poll(outcomes)
        if all(o.outcome != "pending" for o in outcomes) or time.monotonic() >= deadline:
            return outcomes
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def counts(outcomes: list[Outcome]) -> dict[str, int]:
    found = {name: 0 for name in OUTCOMES}
    for o in outcomes:
        found[o.outcome] += 1
    return found
