"""The delivery service in-process: coalescing, frozen batches, claims, outcomes, replay."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from relay import deadletters
from relay.db import connection
from sync_worker import enqueue_email_change, service
from sync_worker.breaker import Permit
from tests.support import wait_until
from tests.support.sync import attempts_of, change, changes, dead_letters, posts


def _enqueue(current, new, n=1):
    return enqueue_email_change(f"C-{n}", current, new, "acme", "ES").change_id


def _bodies(homeria):
    return [json.loads(r.body) for r in posts(homeria)]


def _deliver_until(change_id, want, timeout=5.0):
    """Run deliveries of `change_id` (as retried messages would) until one returns `want`."""
    results = []

    def step():
        results.append(service.deliver(change_id))
        return results[-1] == want
    wait_until(step, timeout=timeout, interval=0.05, message=f"{want} (got {results})")
    return results


def test_pending_changes_are_coalesced_into_one_call(sync_rt, homeria):
    # given three changes for one customer queued before any worker ran
    a = _enqueue("c1@example.com", "b@example.com")
    b = _enqueue("b@example.com", "c@example.com")
    c = _enqueue("c@example.com", "d@example.com")
    # when the first one's message is processed
    assert service.deliver(a) == "synced"
    # then ONE call carried current -> latest, under the latest change's id
    (body,) = _bodies(homeria)
    assert (body["current_email"], body["new_email"], body["change_id"]) == \
        ("c1@example.com", "d@example.com", str(c))
    rows = {r["id"]: r for r in changes()}
    assert rows[a]["state"] == rows[b]["state"] == "superseded"
    assert rows[a]["carried_by"] == rows[b]["carried_by"] == c
    assert rows[c]["state"] == "synced" and rows[c]["carried_count"] == 2
    assert homeria.state.lookup("acme", "ES", "d@example.com") is not None
    # and later messages for any of them do nothing
    assert {service.deliver(x) for x in (a, b, c)} == {"finished"}
    assert len(posts(homeria)) == 1


def test_a_batch_is_frozen_once_tried_so_retries_resend_the_same_body(sync_rt, homeria):
    # given a change whose first attempt failed
    homeria.faults.update(error_rate=1.0)
    a = _enqueue("c1@example.com", "b@example.com")
    assert service.deliver(a).startswith("retry_")
    # when another change for the customer arrives, and Homeria recovers
    b = _enqueue("b@example.com", "c@example.com")
    homeria.faults.update(error_rate=0.0)
    _deliver_until(a, "synced")
    _deliver_until(b, "synced")
    # then the retry sent the same body under the same key, and the second came after
    bodies = _bodies(homeria)
    assert [(x["change_id"], x["new_email"]) for x in bodies] == [
        (str(a), "b@example.com"), (str(a), "b@example.com"), (str(b), "c@example.com")]
    assert [p.status for p in posts(homeria)] == [503, 200, 200]
    assert [x["outcome"] for x in attempts_of(a)] == ["transient", "synced"]


def test_two_workers_never_claim_one_customer_at_once(sync_rt):
    a = _enqueue("c1@example.com", "b@example.com")
    results = []
    barrier = threading.Barrier(4)

    def claim():
        barrier.wait()
        results.append(service.claim_change(a, lambda: Permit(True, "closed")))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claims = [r for r in results if isinstance(r, service.Claim)]
    assert len(claims) == 1
    assert sorted(r for r in results if isinstance(r, str)) == ["busy"] * 3


def test_open_breaker_defers_without_spending_an_attempt(sync_rt, homeria):
    sync_rt.breaker.record_failure("unauthorized", force_open=True)
    a = _enqueue("c1@example.com", "b@example.com")
    assert service.deliver(a) == "breaker_open"
    assert posts(homeria) == [] and attempts_of(a) == []
    row = change(a)
    assert row["failures"] == 0 and row["state"] == "pending"


def test_not_found_is_dead_lettered_and_the_next_change_goes_on(sync_rt, homeria):
    # given a change for an email Homeria does not know, tried once (frozen) ...
    homeria.faults.update(error_rate=1.0)
    a = _enqueue("ghost@example.com", "ghost2@example.com", n=5)
    assert service.deliver(a).startswith("retry_")
    # ... and a later change of the same customer waiting behind it
    b = _enqueue("c5@example.com", "c5.new@example.com", n=5)
    homeria.faults.update(error_rate=0.0)
    # when the first is answered 404
    _deliver_until(a, "dead")
    # then it is dead-lettered with the contract's reason, and the next one goes on
    (letter,) = dead_letters()
    assert (letter["reason"], letter["status_code"]) == ("customer_not_found", 404)
    assert (letter["brand"], letter["country"]) == ("acme", "ES")
    _deliver_until(b, "synced")


def test_replayed_dead_letter_goes_back_through_the_queue_and_syncs(sync_rt, homeria):
    # given a change dead-lettered because Homeria did not know the customer yet
    a = _enqueue("late@example.com", "late.new@example.com", n=6)
    assert service.deliver(a) == "dead"
    (letter,) = dead_letters()
    # when Homeria learns the customer and on-call replays it
    homeria.state.seed("acme", "ES", "late@example.com", "HC-LATE")
    (result,) = deadletters.replay([letter["id"]], by="test")
    assert result.outcome == "replayed", result.message
    assert change(a)["state"] == "pending"
    # then it syncs with the same body under a fresh key (the first one keeps its 404)
    _deliver_until(a, "synced")
    first, second = _bodies(homeria)
    assert first == second
    keys = [r.headers["Idempotency-Key"] for r in posts(homeria)]
    assert keys[0] == str(a) and keys[1] != keys[0]
    assert homeria.state.lookup("acme", "ES", "late.new@example.com").customer_ref == "HC-LATE"


def test_failing_longer_than_the_give_up_age_dead_letters_max_age(sync_rt, homeria):
    homeria.faults.update(error_rate=1.0)
    a = _enqueue("c2@example.com", "c2.new@example.com", n=2)
    assert service.deliver(a).startswith("retry_")
    with connection() as conn:
        conn.execute("UPDATE email_changes SET first_failure_at = %s WHERE id = %s",
                     (datetime.now(UTC) - timedelta(days=2), a))
        conn.commit()
    _deliver_until(a, "dead")
    assert [d["reason"] for d in dead_letters()] == ["max_age"]


def test_rate_limited_429_retries_no_earlier_than_retry_after(sync_rt, homeria):
    homeria.faults.update(burst_429=1, retry_after=2)
    a = _enqueue("c3@example.com", "c3.new@example.com", n=3)
    assert service.deliver(a) == "retry_countdown"
    with connection() as conn:
        row = conn.execute("SELECT next_attempt_at - now() AS wait FROM outbox"
                           " WHERE entity_id = %s", (a,)).fetchone()
        conn.commit()
    assert row["wait"] >= timedelta(seconds=1.9)
    assert service.deliver(a) == "stale"   # an early duplicate message does nothing
    assert len(posts(homeria)) == 1


def _queued_ids(redis_client, queue="homeria") -> list[str]:
    """Change ids of the task messages waiting in `queue` (oldest first)."""
    import base64

    out = []
    for raw in reversed(redis_client.lrange(queue, 0, -1)):
        body = json.loads(base64.b64decode(json.loads(raw)["body"]))
        out.append(body[0][0])
    return out


def test_a_synced_change_hands_the_slot_on_and_publishes_the_next(sync_rt, homeria,
                                                                   redis_client):
    # given a change claimed and sent, and a second one that arrived meanwhile (parked)
    a = _enqueue("c1@example.com", "b@example.com")
    claim = service.claim_change(a, lambda: Permit(True, "closed"))
    b = _enqueue("b@example.com", "c@example.com")
    redis_client.delete("homeria")
    result = sync_rt.client.send_change(claim.payload)
    # when its outcome is recorded (the one-statement path)
    assert service.record(claim, result, datetime.now(UTC)) == "synced"
    # then it is synced with its attempt, its outbox row is done, the slot is b's, and b's
    # message is on the queue
    assert change(a)["state"] == "synced" and change(a)["customer_ref"]
    assert [x["outcome"] for x in attempts_of(a)] == ["synced"]
    with connection() as conn:
        boxes = {r["entity_id"]: r for r in conn.execute(
            "SELECT * FROM outbox WHERE entity_id = ANY(%s)", ([a, b],))}
        slot = conn.execute("SELECT active_change FROM email_change_customers").fetchone()
        conn.commit()
    assert boxes[a]["done_at"] is not None
    assert boxes[b]["done_at"] is None and boxes[b]["parked_reason"] is None
    assert slot["active_change"] == b
    assert _queued_ids(redis_client) == [str(b)]


def test_a_synced_answer_after_the_lease_was_lost_only_records_the_attempt(sync_rt, homeria,
                                                                           redis_client):
    # given a claim whose lease ran out and was taken by another worker
    a = _enqueue("c1@example.com", "b@example.com")
    claim = service.claim_change(a, lambda: Permit(True, "closed"))
    with connection() as conn:
        conn.execute("UPDATE email_changes SET claim_token = gen_random_uuid() WHERE id = %s",
                     (a,))
        conn.commit()
    result = sync_rt.client.send_change(claim.payload)
    # when the first worker's answer comes back
    assert service.record(claim, result, datetime.now(UTC)) == "claim_lost"
    # then the attempt is in the history, but the change stays with the other worker
    assert [x["outcome"] for x in attempts_of(a)] == ["synced"]
    row = change(a)
    assert row["state"] == "in_flight" and row["synced_at"] is None
    with connection() as conn:
        box = conn.execute("SELECT done_at FROM outbox WHERE entity_id = %s", (a,)).fetchone()
        conn.commit()
    assert box["done_at"] is None
