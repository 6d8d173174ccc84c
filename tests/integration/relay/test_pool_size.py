"""The pool keeps DB_POOL_MIN connections open (capped at DB_POOL_MAX): an API answering a
burst must not wait while connections open one by one."""

from __future__ import annotations

import time

from relay.db import close_pool, get_pool


def _open_now(pool) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stats = pool.get_stats()
        if stats.get("pool_size", 0) >= pool.min_size:
            break
        time.sleep(0.05)
    return pool.get_stats().get("pool_size", 0)


def test_the_pool_opens_db_pool_min_connections_up_front(db, monkeypatch):
    close_pool()
    monkeypatch.setenv("DB_POOL_MAX", "6")
    monkeypatch.setenv("DB_POOL_MIN", "4")
    try:
        pool = get_pool()
        assert (pool.min_size, pool.max_size) == (4, 6)
        assert _open_now(pool) == 4   # before anyone asked for one
    finally:
        close_pool()


def test_db_pool_min_above_the_maximum_is_capped(db, monkeypatch):
    close_pool()
    monkeypatch.setenv("DB_POOL_MAX", "2")
    monkeypatch.setenv("DB_POOL_MIN", "5")
    try:
        assert (get_pool().min_size, get_pool().max_size) == (2, 2)
    finally:
        close_pool()
