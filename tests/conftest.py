"""Test harness: real PostgreSQL, real Redis, real worker processes.

`scripts/test` provides DATABASE_URL and REDIS_URL (private instances unless you set
them). The session creates a throwaway database on that server, migrates it, and points
every test (and every worker subprocess) at it; Redis is flushed (FLUSHDB on the URL's
database) between tests that use it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support import WorkerProcess

# Fast clocks for tests: short lease and sweep interval; workers inherit these.
os.environ.setdefault("OUTBOX_LEASE_SECONDS", "15")
os.environ.setdefault("OUTBOX_SWEEP_SECONDS", "1")
os.environ.setdefault("LOG_LEVEL", "INFO")
os.environ.setdefault("HOMERIA_MAX_RPS", "0")


class _SettingsAwareMonkeyPatch(pytest.MonkeyPatch):
    """relay reads every variable through one cached registry (relay.settings): changing
    the environment drops the cache, so a test sees its value at once, and undo does too."""

    def setenv(self, name: str, value: str, prepend: str | None = None) -> None:
        super().setenv(name, value, prepend)
        _reload_settings()

    def delenv(self, name: str, raising: bool = True) -> None:
        super().delenv(name, raising)
        _reload_settings()

    def undo(self) -> None:
        super().undo()
        _reload_settings()


def _reload_settings() -> None:
    from relay.settings import reset_settings_cache

    reset_settings_cache()


@pytest.fixture
def monkeypatch() -> Iterator[pytest.MonkeyPatch]:
    patch = _SettingsAwareMonkeyPatch()
    yield patch
    patch.undo()


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the suite with scripts/test", returncode=2)
    return value


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    import psycopg

    server_url = _require("DATABASE_URL")
    name = f"relay_test_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(server_url)
    test_url = urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = test_url
    from relay.migrate import migrate
    from relay.settings import reset_settings_cache

    reset_settings_cache()
    migrate(test_url)
    yield test_url
    from relay.db import close_pool

    close_pool()
    os.environ["DATABASE_URL"] = server_url
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _require("REDIS_URL")


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
        tables = [r["tablename"] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'schema_migrations'")]
        if tables:
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                         + " RESTART IDENTITY CASCADE")
        conn.commit()
    yield database_url


@pytest.fixture
def broker(redis_url, redis_client) -> Iterator[str]:
    """A clean broker database for one test."""
    redis_client.flushdb()
    yield redis_url
    redis_client.flushdb()


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


