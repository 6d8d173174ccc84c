"""Promotions yield to order updates picked up late, not only to queued ones: the claim of
a transactional message reports how long it waited since it became due, and a late one
holds promotions back for a second (notifications/lateness.py)."""

from __future__ import annotations

import os
import time

import pytest

from notifications import lateness, record_order_event, service
from relay.db import connection
from tests.support.databases import flush_redis
from tests.support.events import event
from tests.support.notifications import due_ids


@pytest.fixture
def fresh(wired, redis_client):
    redis_client.delete(lateness.KEY)
    lateness._reported_at = 0.0
    service._backlog_seen = (0.0, False)
    yield wired
    redis_client.delete(lateness.KEY)


def _age_due_rows(seconds: float) -> None:
    """The rows became due `seconds` ago (as if workers had been busy that long)."""
    with connection() as conn:
        conn.execute("""UPDATE notifications SET activated_at = activated_at
                        - make_interval(secs => %s) WHERE state = 'pending'""", (seconds,))
        conn.commit()


def _deliver_due() -> list[str]:
    """Deliver in-process what a worker would; the messages the producer published are
    dropped first (queued order updates are the other sign to yield)."""
    flush_redis(os.environ["REDIS_URL"])
    return [service.deliver(i) for i in due_ids()]


def test_an_order_update_picked_up_late_holds_promotions_back_for_a_second(
        fresh, monkeypatch):
    monkeypatch.setenv("PROMO_YIELD_MAX_SECONDS", "5")
    record_order_event(event("shipped"))
    _age_due_rows(0.6)                        # waited 600 ms > PROMO_YIELD_LAG_MS (250)
    assert _deliver_due() == ["sent"]
    assert lateness.orders_late()
    started = time.monotonic()
    service.wait_for_orders()                 # what a promotion does before it claims
    waited = time.monotonic() - started
    assert 0.5 <= waited < 2.0, waited        # the flag lives a second, then they go on
    assert not lateness.orders_late()


def test_an_order_update_picked_up_at_once_holds_nothing_back(fresh):
    record_order_event(event("shipped"))
    assert _deliver_due() == ["sent"]
    assert not lateness.orders_late()
    started = time.monotonic()
    service.wait_for_orders()
    assert time.monotonic() - started < 0.1


def test_a_retry_is_not_late_however_long_its_backoff_was(fresh):
    record_order_event(event("shipped"))
    with connection() as conn:   # a first attempt failed transiently; the retry is due
        conn.execute("""UPDATE notifications SET attempts = 1 WHERE state = 'pending'""")
        conn.commit()
    _age_due_rows(30)                         # activated 30 s ago: the backoff, planned
    assert _deliver_due() == ["sent"]
    assert not lateness.orders_late()


def test_promo_yield_lag_ms_0_turns_the_signal_off(fresh, monkeypatch):
    monkeypatch.setenv("PROMO_YIELD_LAG_MS", "0")
    record_order_event(event("shipped"))
    _age_due_rows(5)
    assert _deliver_due() == ["sent"]
    assert not lateness.orders_late()
