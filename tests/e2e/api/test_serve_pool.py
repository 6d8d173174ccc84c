"""`relay serve` opens its DB_POOL_MAX connections at start (DB_POOL_MIN), in one process
as in several: a burst right after start must not wait while connections open."""

from __future__ import annotations

import psycopg
import pytest

from tests.support import free_port, wait_until
from tests.support.processes import start_api

pytestmark = pytest.mark.e2e


def _relay_backends(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:   # not relay's pool: not counted
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'relay'").fetchone()[0]


@pytest.mark.parametrize("workers", [1, 2])
def test_relay_serve_opens_its_pool_at_start(relay_env, tmp_path, workers):
    env = {**relay_env, "DB_POOL_MAX": "4"}
    env.pop("DB_POOL_MIN", None)
    api, _url = start_api(free_port(), env, tmp_path / "api.log", workers=workers)
    try:
        # no request has been made: every connection was opened by the start itself
        wait_until(lambda: _relay_backends(relay_env["DATABASE_URL"]) >= 4 * workers,
                   15, 0.1, f"{4 * workers} pooled connections from relay serve")
    finally:
        api.stop()
