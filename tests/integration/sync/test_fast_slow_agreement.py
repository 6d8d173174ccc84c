"""The email sync decides twice: a fast path in SQL (relay/sql/email_changes.sql) and the
careful path in Python (sync_worker/service.py). Each case below is built twice, for two
customers alike, and given to each path; they must decide alike.

The fast claim may decline what the careful path would claim (it then takes the careful
path: slower, same result), but whatever it claims the careful path claims too, alone,
with the same body and leaving the same rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from psycopg.types.json import Jsonb

from relay.db import connection, transaction
from relay.names import Queues, Tasks
from sync_worker import service, store
from sync_worker.breaker import Permit
from sync_worker.client import SendResult
from sync_worker.errors import Outcome

_DUE = {"now": "now() - interval '1 second'", "in_a_moment": "now() + interval '0.9 second'",
        "later": "now() + interval '1 minute'", "parked": "'infinity'"}
_CLAIM = {None: (None, None), "live": ("gen_random_uuid()", "now() + interval '1 minute'"),
          "lapsed": ("gen_random_uuid()", "now() - interval '5 seconds'")}


@dataclass(frozen=True)
class Change:
    """One of the customer's changes, in order; `profile` ones share the customer's slot."""

    state: str = "pending"
    frozen: bool = False          # claimed before: its body (sent_current_email) is fixed
    claim: str | None = None      # None | live | lapsed
    due: str = "now"              # now | in_a_moment | later | parked | done
    profile: bool = False


@dataclass(frozen=True)
class Case:
    name: str
    changes: tuple[Change, ...]
    active: int | None            # which change holds the customer's slot
    fast: str                     # the SQL fast claim: claimed | declined
    slow: str                     # the careful path's answer
    me: int = 0                   # the change the message is for


WAITING = Change(due="parked")
CLAIM_CASES = [
    Case("alone, due, unclaimed", (Change(),), 0, "claimed", "claimed"),
    Case("in flight, claim lapsed", (Change("in_flight", True, "lapsed"),), 0,
         "claimed", "claimed"),
    Case("in flight, claim live", (Change("in_flight", True, "live"),), 0,
         "declined", "busy"),
    Case("frozen batch, a change queued behind",
         (Change("in_flight", True, "lapsed"), WAITING), 0, "claimed", "claimed"),
    Case("a change queued behind to coalesce", (Change(), WAITING), 0,
         "declined", "claimed, carrying 1"),
    Case("waiting behind the active change", (Change("in_flight", True, "live"), WAITING), 0,
         "declined", "waiting", me=1),
    Case("slot pointer lost", (Change(),), None, "declined", "slot_repaired"),
    Case("due in a moment", (Change(due="in_a_moment"),), 0, "declined", "early"),
    Case("due much later (a stale message)", (Change(due="later"),), 0, "declined", "stale"),
    Case("already synced", (Change("synced", True, due="done"),), None,
         "declined", "finished"),
    # the one case where the fast claim declines what the careful path claims alone: a
    # profile change queued between never lets an email change merge past it
    Case("a profile change between it and the next email change",
         (Change(), Change(profile=True, due="parked"), WAITING), 0,
         "declined", "claimed"),
]


def _build(case: Case) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """The case's rows for a customer of its own; returns (message's change, all changes)."""
    key = {"brand": "acme", "country": "ES", "customer_id": f"agree-{uuid.uuid4().hex[:10]}"}
    ids = [uuid.uuid4() for _ in case.changes]
    with transaction() as tx:
        tx.execute("INSERT INTO email_change_customers (brand, country, customer_id)"
                   " VALUES (%(brand)s, %(country)s, %(customer_id)s)", key)
        for n, (cid, ch) in enumerate(zip(ids, case.changes, strict=True)):
            token, until = _CLAIM[ch.claim]
            if ch.profile:
                tx.execute(
                    f"""INSERT INTO profile_changes (id, customer_id, brand, country, email,
                                                     changes, state, claim_token, claimed_until)
                        VALUES (%s, %s, %s, %s, %s, %s, %s, {token or 'NULL'},
                                {until or 'NULL'})""",
                    (cid, key["customer_id"], key["brand"], key["country"],
                     f"c{n}@example.com", Jsonb({"phone": "+34600000000"}), ch.state))
            else:
                tx.execute(
                    f"""INSERT INTO email_changes (id, customer_id, brand, country,
                                                   current_email, new_email, state,
                                                   sent_current_email, claim_token,
                                                   claimed_until)
                        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, {token or 'NULL'},
                                {until or 'NULL'})""",
                    (cid, key["customer_id"], key["brand"], key["country"],
                     f"c{n}@example.com", f"c{n + 1}@example.com", ch.state,
                     f"c{n}@example.com" if ch.frozen else None))
            kind, task = (("profile_change", Tasks.DELIVER_PROFILE_CHANGE) if ch.profile
                          else ("email_change", Tasks.DELIVER_EMAIL_CHANGE))
            done = "now()" if ch.due == "done" else "NULL"
            due = _DUE.get(ch.due, "now()")
            tx.execute(f"""INSERT INTO outbox (entity_id, kind, task, queue, next_attempt_at,
                                               done_at)
                           VALUES (%s, %s, %s, %s, {due}, {done})""",
                       (cid, kind, task, Queues.HOMERIA))
        if case.active is not None:
            store.set_active(tx, key, ids[case.active])
    return ids[case.me], ids


def _rows(ids: list[uuid.UUID]) -> list[tuple]:
    """What a claim leaves, comparable across the two customers."""
    with connection() as conn:
        found = []
        for cid in ids:
            row = (store.get(conn, cid)
                   or conn.execute("SELECT * FROM profile_changes WHERE id = %s",
                                   (cid,)).fetchone())
            found.append((row["state"], row.get("sent_current_email"),
                          row["claim_token"] is not None, row["claimed_until"] is not None,
                          row.get("carried_count")))
        conn.commit()
    return found


def _lease() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now, now + timedelta(seconds=30)


@pytest.mark.parametrize("case", CLAIM_CASES, ids=[c.name for c in CLAIM_CASES])
def test_the_fast_claim_claims_only_what_the_careful_path_claims_alone(db, broker, case):
    # given the same case for two customers
    fast_id, fast_ids = _build(case)
    token = uuid.uuid4()
    # when the fast claim and the careful path each get one
    row = store.fast_claim(fast_id, token, *_lease())
    slow_id, slow_ids = _build(case)
    slow = service.claim_change(slow_id, lambda: Permit(True, "closed"), uuid.uuid4())
    # then
    slow_says = slow if isinstance(slow, str) else (
        f"claimed, carrying {len(slow.carried)}" if slow.carried else "claimed")
    assert ("claimed" if row else "declined", slow_says) == (case.fast, case.slow)
    if row:
        assert (row["sent_current_email"], row["new_email"], row["delivery"]) == (
            slow.payload.current_email, slow.payload.new_email, slow.payload.delivery)
        assert _rows(fast_ids) == _rows(slow_ids)


@dataclass(frozen=True)
class Held:
    name: str
    token: str            # what became of our claim: ours | taken | released
    decision: str         # holds | lost


HELD_CASES = [
    Held("our claim holds", "ours", "holds"),
    Held("another worker re-claimed it after our lease", "taken", "lost"),
    Held("the claim was given back", "released", "lost"),
]


@pytest.mark.parametrize("case", HELD_CASES, ids=[c.name for c in HELD_CASES])
def test_synced_in_sql_and_a_failure_in_python_agree_on_whether_the_claim_holds(
        sync_rt, case):
    """email_change_synced (SQL) and service.record's Python path each check the claim
    before they write the outcome; both record the attempt either way."""
    decided, rows = [], []
    for outcome, status in ((Outcome.SYNCED, 200), (Outcome.TRANSIENT, 503)):
        # given a claimed change
        change_id, ids = _build(Case(case.name, (Change(),), 0, "", ""))
        claim = service.claim_change(change_id, lambda: Permit(True, "closed"))
        if case.token != "ours":
            with transaction() as tx:
                store.update(tx, change_id, claim_token=uuid.uuid4()
                             if case.token == "taken" else None)
        # when its outcome is recorded
        result = SendResult(change_id=change_id, outcome=outcome, reason=str(outcome),
                            status_code=status, latency_ms=12.0, customer_ref="HC-1")
        said = service.record(claim, result, datetime.now(UTC))
        # then
        decided.append("lost" if said == "claim_lost" else "holds")
        with connection() as conn:
            attempts = conn.execute("SELECT count(*) AS n FROM attempts WHERE entity_id = %s",
                                    (change_id,)).fetchone()["n"]
            conn.commit()
        rows.append((_rows(ids), attempts))
    assert decided == [case.decision, case.decision]
    assert [n for _, n in rows] == [1, 1]
    if case.decision == "lost":   # neither path touched a row it no longer owns
        assert rows[0][0] == rows[1][0]
