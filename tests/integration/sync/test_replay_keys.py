"""Which Idempotency-Key a delivery goes under: the change id first, a fresh derived key
only after Homeria kept a permanent answer under the current one (docs/contracts/homeria.md)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from relay import deadletters
from relay.db import connection
from sync_worker import enqueue_email_change, service, store
from sync_worker.breaker import Permit
from sync_worker.payload import delivery_key
from tests.integration.sync.helpers import attempts_of, change, dead_letters, posts
from tests.support import run_cli, wait_until


def _enqueue(current, new, n=1):
    return enqueue_email_change(f"C-{n}", current, new, "acme", "ES").change_id


def _deliver_until(change_id, want, timeout=5.0):
    results = []

    def step():
        results.append(service.deliver(change_id))
        return results[-1] == want
    wait_until(step, timeout=timeout, interval=0.05, message=f"{want} (got {results})")


def _replay_open():
    letters = [d["id"] for d in dead_letters() if d["state"] == "open"]
    assert [r.outcome for r in deadletters.replay(letters, by="test")] == ["replayed"]


def _keys(homeria):
    return [r.headers["Idempotency-Key"] for r in posts(homeria)]


def test_delivery_keys_are_derived_from_the_change_never_random():
    cid = uuid.UUID("7d1c0c5e-4a52-4e2b-9d38-1f0f6a1d2b3c")
    assert delivery_key(cid, 0) == cid
    assert delivery_key(cid, 1) == delivery_key(cid, 1) != cid
    assert len({delivery_key(cid, n) for n in range(5)}) == 5


def test_each_replay_after_a_permanent_answer_moves_to_a_fresh_key(sync_rt, homeria):
    # given a change Homeria answers 404, replayed while the customer is still missing
    a = _enqueue("ghost@example.com", "ghost.new@example.com", n=7)
    assert service.deliver(a) == "dead"
    _replay_open()
    assert change(a)["delivery"] == 1
    _deliver_until(a, "dead")
    # when it is replayed again once the customer exists
    homeria.state.seed("acme", "ES", "ghost@example.com", "HC-GHOST")
    _replay_open()
    _deliver_until(a, "synced")
    # then three keys went out, one per generation, generation 0 being the change id
    assert _keys(homeria) == [str(delivery_key(a, n)) for n in range(3)]
    assert [(x["status_code"], x["idempotency_key"]) for x in attempts_of(a)] == [
        (404, str(a)), (404, str(delivery_key(a, 1))), (200, str(delivery_key(a, 2)))]
    assert homeria.state.applied_by_change() == {str(a): 1}


def test_the_fast_and_the_careful_claim_pick_the_same_key(sync_rt, homeria):
    # given a change replayed into generation 1
    a = _enqueue("ghost@example.com", "ghost.new@example.com", n=7)
    assert service.deliver(a) == "dead"
    _replay_open()
    # when it is claimed the careful way (under the customer's lock) ...
    careful = service.claim_change(a, lambda: Permit(True, "closed"))
    assert careful.payload.idempotency_key == delivery_key(a, 1)
    service.release(careful, 0)
    # ... and the one-statement way
    fast = store.fast_claim(a, uuid.uuid4(), datetime.now(UTC),
                            datetime.now(UTC) + timedelta(seconds=20))
    assert fast is not None and fast["delivery"] == 1
    assert service._payload(fast, fast["sent_current_email"]).idempotency_key \
        == careful.payload.idempotency_key


def test_retries_after_a_lost_answer_reuse_the_key_and_are_applied_once(sync_rt, homeria):
    # given Homeria applies the change but its answer is lost
    homeria.faults.update(drop_after_apply_rate=1.0)
    a = _enqueue("c1@example.com", "c1.new@example.com")
    assert service.deliver(a).startswith("retry_")
    homeria.faults.update(drop_after_apply_rate=0)
    # when the retry goes out
    _deliver_until(a, "synced")
    # then under the same key, answered from Homeria's kept 200
    assert _keys(homeria) == [str(a), str(a)]
    assert change(a)["last_outcome"] == "already_applied"
    assert homeria.state.applied_by_change() == {str(a): 1}


def test_a_replay_after_giving_up_on_transient_failures_keeps_its_key(sync_rt, homeria):
    # given a change whose answers were lost (it was applied) until relay gave up
    homeria.faults.update(drop_after_apply_rate=1.0)
    a = _enqueue("c2@example.com", "c2.new@example.com", n=2)
    assert service.deliver(a).startswith("retry_")
    with connection() as conn:
        conn.execute("UPDATE email_changes SET first_failure_at = %s WHERE id = %s",
                     (datetime.now(UTC) - timedelta(days=2), a))
        conn.commit()
    _deliver_until(a, "dead")
    assert [d["reason"] for d in dead_letters()] == ["max_age"]
    # when it is replayed
    homeria.faults.update(drop_after_apply_rate=0)
    _replay_open()
    _deliver_until(a, "synced")
    # then the key stays the change id, and Homeria's kept 200 answers it: applied once
    assert change(a)["delivery"] == 0
    assert set(_keys(homeria)) == {str(a)}
    assert homeria.state.applied_by_change() == {str(a): 1}


def test_a_lost_answer_in_a_replayed_generation_is_still_applied_once(sync_rt, homeria):
    a = _enqueue("late@example.com", "late.new@example.com", n=8)
    assert service.deliver(a) == "dead"
    homeria.state.seed("acme", "ES", "late@example.com", "HC-LATE")
    _replay_open()
    homeria.faults.update(drop_after_apply_rate=1.0)
    assert service.deliver(a).startswith("retry_")
    homeria.faults.update(drop_after_apply_rate=0)
    _deliver_until(a, "synced")
    assert _keys(homeria) == [str(a), str(delivery_key(a, 1)), str(delivery_key(a, 1))]
    assert homeria.state.applied_by_change() == {str(a): 1}


def test_a_replayed_carrier_keeps_its_batch_and_moves_to_a_fresh_key(sync_rt, homeria):
    # given two queued changes of an unknown customer, carried as one (A -> C) and dead
    a = _enqueue("nobody@example.com", "b@example.com", n=9)
    c = _enqueue("b@example.com", "c@example.com", n=9)
    assert service.deliver(a) == "dead"
    assert (change(a)["state"], change(c)["state"]) == ("superseded", "dead")
    # when the customer appears and the carrier is replayed
    homeria.state.seed("acme", "ES", "nobody@example.com", "HC-NOBODY")
    _replay_open()
    _deliver_until(c, "synced")
    # then the same frozen body went under the carrier's next key
    first, second = posts(homeria)
    assert first.json() == second.json() and first.json()["change_id"] == str(c)
    assert _keys(homeria) == [str(c), str(delivery_key(c, 1))]
    assert change(a)["state"] == "superseded"
    assert homeria.state.lookup("acme", "ES", "c@example.com").customer_ref == "HC-NOBODY"


def test_sync_show_prints_the_key_of_every_attempt(sync_rt, homeria, relay_env):
    a = _enqueue("ghost@example.com", "ghost.new@example.com", n=7)
    assert service.deliver(a) == "dead"
    _replay_open()
    shown = run_cli(["sync", "show", str(a), "--json"], relay_env)
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert (doc["delivery"], doc["idempotency_key"]) == (1, str(delivery_key(a, 1)))
    assert [x["idempotency_key"] for x in doc["attempts"]] == [str(a)]
    human = run_cli(["sync", "show", str(a)], {**relay_env, "COLUMNS": "200"})
    assert human.returncode == 0 and str(a) in human.stdout.split("Attempts")[1]
