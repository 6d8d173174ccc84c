"""The shared breaker and token bucket, against the real Redis (their Lua needs it:
fakeredis runs Lua only with `lupa`, which is not installed)."""

from __future__ import annotations

import threading
import time

import pytest
import redis as redis_lib

from sync_worker.breaker import Breaker
from sync_worker.ratelimit import TokenBucket
from tests.support import wait_until


@pytest.fixture
def client(broker):
    c = redis_lib.Redis.from_url(broker)
    yield c
    c.close()


def test_opens_after_threshold_consecutive_failures_and_a_success_resets(client):
    breaker = Breaker(client, threshold=3, cooldown_s=30)
    assert not breaker.record_failure("server_error")
    breaker.record_success()
    assert not breaker.record_failure("server_error")
    assert not breaker.record_failure("server_error")
    assert breaker.record_failure("server_error")      # third in a row
    permit = breaker.allow()
    assert not permit.allowed and permit.state == "open"
    assert 29 < permit.wait_s <= 30
    snap = breaker.snapshot()
    assert snap["state"] == "open" and snap["consecutive_failures"] == 3
    assert snap["opened_at"] and snap["reason"] == "server_error"


def test_auth_failure_opens_at_once(client):
    breaker = Breaker(client, threshold=5, cooldown_s=30)
    assert breaker.record_failure("unauthorized", force_open=True)
    assert not breaker.record_failure("unauthorized", force_open=True)  # already open
    assert not breaker.allow().allowed


def test_half_open_lets_exactly_one_probe_through(client):
    breaker = Breaker(client, threshold=1, cooldown_s=0.2)
    breaker.record_failure("timeout")
    wait_until(lambda: breaker.allow("peek").state != "open", timeout=2)
    client.delete("relay:homeria:breaker:probe")   # the peek above took the probe
    permits = []
    barrier = threading.Barrier(8)

    def ask():
        barrier.wait()
        permits.append(breaker.allow())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(p.allowed for p in permits) == 1
    assert next(p for p in permits if p.allowed).is_probe
    assert {p.state for p in permits if not p.allowed} == {"half_open"}


def test_failed_probe_reopens_and_successful_probe_closes(client):
    breaker = Breaker(client, threshold=1, cooldown_s=0.2)
    breaker.record_failure("timeout")
    time.sleep(0.25)
    probe = breaker.allow()
    assert probe.is_probe
    breaker.record_failure("timeout", probe=True)
    assert breaker.allow().state == "open"
    time.sleep(0.25)
    assert breaker.allow().is_probe
    assert breaker.record_success()
    assert breaker.allow().state == "closed"
    assert breaker.snapshot()["consecutive_failures"] == 0


def test_lost_state_means_closed(client):
    breaker = Breaker(client, threshold=1, cooldown_s=30)
    breaker.record_failure("timeout")
    client.flushdb()
    assert breaker.allow().allowed


def test_unreachable_redis_lets_calls_through():
    dead = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    assert Breaker(dead, 1, 1).allow().allowed
    assert TokenBucket(dead, 5).take().granted


def test_bucket_grants_its_capacity_then_reserves_or_refuses(client):
    bucket = TokenBucket(client, rate=10)
    grants = [bucket.take() for _ in range(10)]
    assert all(g.granted and g.wait_s == 0 for g in grants)
    refused = bucket.take(max_wait_s=0)
    assert not refused.granted and 0 < refused.wait_s <= 0.11
    reserved = bucket.take(max_wait_s=0.5)
    assert reserved.granted and 0 < reserved.wait_s <= 0.2


def test_bucket_holds_the_rate_across_many_callers(client):
    bucket = TokenBucket(client, rate=20)
    for _ in range(20):
        bucket.take()                                # drain the burst
    started = time.monotonic()
    taken = 0
    lock = threading.Lock()

    def worker():
        nonlocal taken
        while time.monotonic() - started < 1.0:
            grant = bucket.take(max_wait_s=0.3)
            if grant.granted:
                time.sleep(grant.wait_s)
                with lock:
                    taken += 1
            else:
                time.sleep(grant.wait_s)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 15 <= taken <= 30   # ~20 in one second (+ reservations made near the end)


def test_zero_rate_is_off(client):
    bucket = TokenBucket(client, rate=0)
    assert all(bucket.take().granted for _ in range(100))
    assert client.dbsize() == 0
