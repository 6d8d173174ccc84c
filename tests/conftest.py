"""Test harness: real PostgreSQL, real Redis, real worker processes.

`scripts/test` provides DATABASE_URL and REDIS_URL (private instances unless you set
them). The session creates a throwaway database on that server, migrates it, and points
every test (and every worker subprocess) at it; Redis is flushed (FLUSHDB on the URL's
database) between tests that use it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.support import WorkerProcess
from tests.support.databases import (
    create_database,
    drop_database,
    flush_redis,
    require_for_tests,
    truncate_all,
)
from tests.support.settings import SettingsAwareMonkeyPatch

# Fast clocks for tests: short lease and sweep interval; workers inherit these.
os.environ.setdefault("OUTBOX_LEASE_SECONDS", "15")
os.environ.setdefault("OUTBOX_SWEEP_SECONDS", "1")
os.environ.setdefault("LOG_LEVEL", "INFO")
os.environ.setdefault("HOMERIA_MAX_RPS", "0")


@pytest.fixture
def monkeypatch() -> Iterator[pytest.MonkeyPatch]:
    patch = SettingsAwareMonkeyPatch()
    yield patch
    patch.undo()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    from relay.settings import reset_settings_cache

    server_url = require_for_tests("DATABASE_URL")
    test_url = create_database(server_url, "relay_test")
    os.environ["DATABASE_URL"] = test_url
    reset_settings_cache()
    yield test_url
    drop_database(server_url, test_url)
    os.environ["DATABASE_URL"] = server_url


@pytest.fixture(scope="session")
def redis_url() -> str:
    return require_for_tests("REDIS_URL")


@pytest.fixture
def redis_client(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def db(database_url) -> Iterator[str]:
    """A clean database for one test (all tables truncated, migrations kept)."""
    from relay.db import connection

    with connection() as conn:
        truncate_all(conn)
        conn.commit()
    yield database_url


@pytest.fixture
def broker(redis_url, redis_client) -> Iterator[str]:
    """A clean broker database for one test."""
    flush_redis(redis_url)
    yield redis_url
    flush_redis(redis_url)


@pytest.fixture
def relay_env(db, broker) -> dict[str, str]:
    """Environment for subprocesses (workers, CLI) pointing at this test's services."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env["DATABASE_URL"] = db
    env["REDIS_URL"] = broker
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def start_worker(relay_env, tmp_path) -> Iterator[Callable[..., WorkerProcess]]:
    """start_worker(queues="maintenance", pool="threads", concurrency=4, env=None)."""
    started: list[WorkerProcess] = []

    def start(queues: str = "maintenance", *, pool: str = "threads", concurrency: int = 4,
              env: dict[str, str] | None = None, wait: bool = True) -> WorkerProcess:
        full_env = dict(relay_env)
        full_env.update(env or {})
        worker = WorkerProcess(f"w{len(started)}", queues, full_env, pool, concurrency,
                               tmp_path / f"worker{len(started)}.log")
        started.append(worker)
        return worker.wait_ready() if wait else worker

    yield start
    for worker in started:
        worker.stop()


