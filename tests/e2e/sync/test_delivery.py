"""Email changes reach Homeria through real worker processes: once, in order, promptly."""

from __future__ import annotations

import threading

import pytest

from sync_worker import enqueue_email_change
from tests.support import wait_until
from tests.support.homeria import TOKEN
from tests.support.sync import change, changes, dead_letters, emails_in_redis, final, posts

pytestmark = pytest.mark.e2e


def _enqueue(n: int, new: str, current: str | None = None, **kw):
    return enqueue_email_change(f"C-{n}", current or f"c{n}@example.com", new, "acme", "ES",
                                **kw)


def test_a_change_is_synced_within_a_second_and_homeria_holds_the_new_email(
        homeria, sync_worker):
    # given a running worker (warmed up by one change)
    sync_worker()
    warm = _enqueue(1, "warm@example.com")
    wait_until(lambda: change(warm.change_id)["state"] == "synced", timeout=15)
    # when support staff change ten customers' emails
    receipts = [_enqueue(n, f"new{n}@example.com") for n in range(2, 12)]
    ids = [r.change_id for r in receipts]
    wait_until(lambda: final(ids), timeout=10, message="changes synced")
    # then each is synced, Homeria holds the new email, well within a second
    rows = changes(ids)
    assert {r["state"] for r in rows} == {"synced"}
    for n in range(2, 12):
        assert homeria.state.lookup("acme", "ES", f"new{n}@example.com").customer_ref \
            == f"HC-acme-ES-{n}"
    latencies = [(r["synced_at"] - r["requested_at"]).total_seconds() for r in rows]
    assert max(latencies) < 1.0, latencies
    assert len(posts(homeria)) == 11


def test_chained_changes_under_errors_arrive_in_order_or_coalesced(homeria, sync_worker):
    # given Homeria failing 30% of requests with 503, and four worker threads
    homeria.faults.update(error_rate=0.3)
    sync_worker()
    # when five customers each get A->B, B->C, C->D in quick succession
    ids = []
    for n in range(1, 6):
        ids.append(_enqueue(n, f"b{n}@example.com").change_id)
        ids.append(_enqueue(n, f"c{n}@example.com", current=f"b{n}@example.com").change_id)
        ids.append(_enqueue(n, f"d{n}@example.com", current=f"c{n}@example.com").change_id)
    wait_until(lambda: final(ids), timeout=30, message="chains finished")
    # then each customer ends on D, nothing died, and Homeria never saw a 404
    for n in range(1, 6):
        assert homeria.state.lookup("acme", "ES", f"d{n}@example.com") is not None
    rows = changes(ids)
    assert {r["state"] for r in rows} <= {"synced", "superseded"}
    assert dead_letters() == []
    assert 404 not in {r.status for r in posts(homeria)}
    # and what Homeria applied is a consistent chain per customer
    by_ref: dict[str, str] = {}
    for applied in homeria.state.applied_changes:
        who = applied["current_email"]
        prior = [ref for ref, email in by_ref.items() if email == who]
        key = prior[0] if prior else who
        by_ref[key] = applied["new_email"]
    assert sorted(by_ref.values()) == sorted(f"d{n}@example.com" for n in range(1, 6))
    for row in rows:
        if row["state"] == "superseded":
            assert change(row["carried_by"])["state"] == "synced"


def test_429_waits_at_least_retry_after(homeria, sync_worker):
    # given Homeria answering the next request with 429 Retry-After: 1
    sync_worker()
    homeria.faults.update(burst_429=1, retry_after=1)
    # when a change is sent
    receipt = _enqueue(3, "later@example.com")
    wait_until(lambda: change(receipt.change_id)["state"] == "synced", timeout=15)
    # then the retry came no earlier than Retry-After
    first, second = posts(homeria)[:2]
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 1.0


def test_unknown_customer_is_dead_lettered_as_customer_not_found(homeria, sync_worker):
    sync_worker()
    receipt = _enqueue(99, "nobody.new@example.com", current="nobody@example.com")
    wait_until(lambda: change(receipt.change_id)["state"] == "dead", timeout=15)
    (letter,) = dead_letters()
    assert letter["reason"] == "customer_not_found"
    assert letter["status_code"] == 404
    assert str(letter["entity_id"]) == str(receipt.change_id)


def test_wrong_token_opens_the_breaker_dead_letters_nothing_and_sync_resumes_when_fixed(
        homeria, sync_worker, redis_client):
    # given Homeria no longer accepting relay's token
    homeria.state.api_token = "rotated-token"
    worker = sync_worker()
    # when changes are sent
    ids = [_enqueue(n, f"auth{n}@example.com").change_id for n in range(1, 4)]
    wait_until(lambda: redis_client.hget("relay:homeria:breaker", "state") == b"open",
               timeout=15, message="breaker open")
    # then nothing is dead-lettered while the breaker holds them back
    wait_until(lambda: len(posts(homeria)) >= 2, timeout=10, message="a probe after cool-down")
    assert dead_letters() == []
    assert not final(ids)
    assert all(r.status == 401 for r in posts(homeria))
    # and on-call was alerted
    wait_until(lambda: "homeria.auth" in worker.log_path.read_text(), timeout=5)
    # when the token is fixed
    homeria.state.api_token = TOKEN
    # then syncing resumes through a probe and the breaker closes
    wait_until(lambda: final(ids), timeout=15, message="synced after fix")
    assert {r["state"] for r in changes(ids)} == {"synced"}
    assert redis_client.hget("relay:homeria:breaker", "state") == b"closed"


def test_duplicate_request_ids_make_one_call(homeria, sync_worker):
    sync_worker()
    receipts = []

    def send():
        receipts.append(_enqueue(4, "dup@example.com", request_id="ticket-884"))

    threads = [threading.Thread(target=send) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.change_id for r in receipts}) == 1
    wait_until(lambda: final([receipts[0].change_id]), timeout=15)
    assert len(changes()) == 1
    assert len(posts(homeria)) == 1


def test_redis_never_holds_an_email_address(homeria, sync_worker, redis_client):
    # given a worker and Homeria answering slowly with some 429s and errors
    homeria.faults.update(latency_ms=50, error_rate=0.3)
    sync_worker()
    ids = [_enqueue(n, f"secret{n}@example.com").change_id for n in range(1, 11)]
    ids += [_enqueue(n, f"more{n}@example.com", current=f"secret{n}@example.com").change_id
            for n in range(1, 11)]
    # when we look at everything Redis holds, several times during the run
    seen: list[bytes] = []
    for _ in range(10):
        seen += emails_in_redis(redis_client)
        if final(ids):
            break
    wait_until(lambda: final(ids), timeout=30)
    seen += emails_in_redis(redis_client)
    # then no key, value or message body contains an email address
    assert seen == []
