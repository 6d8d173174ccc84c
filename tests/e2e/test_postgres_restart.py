"""PostgreSQL restarted mid-run: workers and beat reconnect by themselves, a producer call
while it is down fails clearly (CLI exit 1, one line) with nothing half-written, and
nothing committed is lost. The test owns its PostgreSQL cluster (tests/servers.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

import psycopg
import pytest

from relay.db import close_pool
from relay.migrate import migrate
from relay.settings import reset_settings_cache
from standins.faults import Faults
from standins.homeria import serve
from sync_worker import enqueue_email_change
from tests.integration.sync.helpers import SECRET, TOKEN, changes, customer, homeria_env
from tests.servers import PrivatePostgres
from tests.support import ROOT, run_cli, wait_until

pytestmark = pytest.mark.e2e

N_BEFORE, N_AFTER = 16, 8


@pytest.fixture
def private_pg(monkeypatch):
    """This test's own PostgreSQL; in-process producers point at it too."""
    server = PrivatePostgres()
    migrate(server.url)
    close_pool()
    monkeypatch.setenv("DATABASE_URL", server.url)
    reset_settings_cache()
    yield server
    close_pool()
    monkeypatch.undo()
    reset_settings_cache()
    server.destroy()


def _enqueue(n: int):
    return enqueue_email_change(f"C-{n}", f"c{n}@example.com", f"moved{n}@example.com",
                                "acme", "ES", request_id=f"pg-restart-{n}").change_id


def _synced(ids) -> int:
    return sum(r["state"] == "synced" for r in changes(ids))


def test_postgres_restart_mid_run_loses_nothing_and_producers_fail_clearly(
        relay_env, start_worker, private_pg, tmp_path):
    homeria = serve(token=TOKEN, secret=SECRET, faults=Faults(latency_ms=200),
                    seed=[customer(n) for n in range(1, N_BEFORE + N_AFTER + 2)])
    env = dict(relay_env, DATABASE_URL=private_pg.url, OUTBOX_LEASE_SECONDS="6",
               OUTBOX_SWEEP_SECONDS="1", DB_POOL_TIMEOUT_SECONDS="1",
               **homeria_env(homeria.url))
    beat = None
    try:
        # given a sync worker, a maintenance worker and beat on this test's PostgreSQL
        workers = [start_worker("homeria", pool="threads", concurrency=4, env=env),
                   start_worker("maintenance", pool="threads", concurrency=2, env=env)]
        with open(tmp_path / "beat.log", "wb") as log:
            beat = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "relay", "beat", "-l", "INFO",
                 "-s", str(tmp_path / "beat-schedule")], env=env, cwd=ROOT, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        ids = [_enqueue(n) for n in range(1, N_BEFORE + 1)]
        wait_until(lambda: _synced(ids) >= 4, timeout=30, message="first syncs")
        # when PostgreSQL stops mid-run (fast shutdown: sessions cut, as in a restart)
        private_pg.stop()
        # then a producer call fails clearly, with one line and exit 1
        started = time.monotonic()
        down = run_cli(["enqueue", "email-change", "--customer-id", "C-99",
                        "--current-email", f"c{N_BEFORE + N_AFTER + 1}@example.com",
                        "--new-email", "never@example.com", "--brand", "acme",
                        "--country", "ES", "--request-id", "while-down"], env)
        took = time.monotonic() - started
        assert down.returncode == 1, down.stdout + down.stderr
        lines = [line for line in down.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "PostgreSQL" in lines[0], down.stderr
        assert "Traceback" not in down.stderr and down.stdout == ""
        time.sleep(1)  # stay down a moment longer: workers and beat hit the outage too
        private_pg.start()
        back_at = time.monotonic()
        # and once it is back, producers work again and every change is synced
        ids += [_enqueue(n) for n in range(N_BEFORE + 1, N_BEFORE + N_AFTER + 1)]
        wait_until(lambda: _synced(ids) == len(ids), timeout=40, interval=0.25,
                   message="every change synced after the PostgreSQL restart")
        resumed_s = time.monotonic() - back_at
        # nothing half-written by the failed call
        with psycopg.connect(private_pg.url) as conn:
            assert conn.execute("SELECT count(*) FROM email_changes WHERE request_id ="
                                " 'while-down'").fetchone()[0] == 0
        # no process exited, and Homeria applied each change once
        for worker in workers:
            assert worker.proc.poll() is None, worker.log()
        assert beat.poll() is None, (tmp_path / "beat.log").read_text(errors="replace")
        applied = Counter(a["new_email"] for a in homeria.state.applied_changes)
        assert set(applied) == {f"moved{n}@example.com"
                                for n in range(1, N_BEFORE + N_AFTER + 1)}
        assert set(applied.values()) == {1}, applied
        print(f"producer failed in {took:.1f} s while PostgreSQL was down; all {len(ids)}"
              f" changes synced {resumed_s:.1f} s after it was back")
    finally:
        if beat is not None and beat.poll() is None:
            beat.terminate()
            beat.wait(timeout=15)
        homeria.stop()
