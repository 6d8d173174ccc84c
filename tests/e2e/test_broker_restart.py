"""Redis restarted mid-run, its data lost: no worker exits, delivery resumes, the sweep
re-publishes what Redis lost, and Homeria applies every change once.

The test owns its `redis-server` (tests/servers.py) and restarts it with SIGTERM while
real `celery worker` processes (threads, as scripts/run runs them, and prefork) are in
the middle of Homeria calls (the stand-in answers after 1 s). Without relay/brokerfix.py
a worker can exit here with `Unrecoverable error: AttributeError("'NoneType' object has
no attribute 'hostname'")` (any pool) or `ValueError('file descriptor is None')`
(prefork, after an earlier reconnect). Whether it does depends on where the worker's
event loop is when the connection drops, so the exact crashes are reproduced
deterministically in tests/integration/relay/test_brokerfix.py; this test holds the
promise end to end.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

import pytest

from relay import brokerinfo
from relay.settings import reset_settings_cache
from standins.faults import Faults
from standins.homeria import serve
from sync_worker import enqueue_email_change
from tests.integration.sync.helpers import SECRET, TOKEN, changes, customer, homeria_env
from tests.servers import PrivateRedis
from tests.support import ROOT, wait_until

pytestmark = pytest.mark.e2e

N_BEFORE, N_AFTER = 24, 8


@pytest.fixture
def private_redis(tmp_path, monkeypatch):
    """This test's own Redis; in-process producers and the sweep point at it too."""
    server = PrivateRedis(tmp_path)
    monkeypatch.setenv("REDIS_URL", server.url)
    reset_settings_cache()
    brokerinfo._client.cache_clear()
    yield server
    server.stop()
    monkeypatch.undo()
    reset_settings_cache()
    brokerinfo._client.cache_clear()


def _enqueue(n: int) -> str:
    return enqueue_email_change(f"C-{n}", f"c{n}@example.com", f"moved{n}@example.com",
                                "acme", "ES").change_id


def _synced(ids) -> int:
    return sum(r["state"] == "synced" for r in changes(ids))


def test_redis_restart_with_data_loss_stops_no_worker_and_loses_nothing(
        relay_env, start_worker, private_redis, tmp_path):
    homeria = serve(token=TOKEN, secret=SECRET, faults=Faults(latency_ms=1000),
                    seed=[customer(n) for n in range(1, N_BEFORE + N_AFTER + 1)])
    env = dict(relay_env, REDIS_URL=private_redis.url, OUTBOX_LEASE_SECONDS="6",
               OUTBOX_SWEEP_SECONDS="1", **homeria_env(homeria.url))
    beat = None
    try:
        # given sync workers as scripts/run runs them (threads) and a prefork one, a
        # maintenance worker and beat (the sweep), all against this test's Redis
        workers = [start_worker("homeria", pool="threads", concurrency=4, env=env),
                   start_worker("homeria", pool="prefork", concurrency=2, env=env),
                   start_worker("maintenance", pool="threads", concurrency=2, env=env)]
        with open(tmp_path / "beat.log", "wb") as log:
            beat = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "relay", "beat", "-l", "INFO",
                 "-s", str(tmp_path / "beat-schedule")], env=env, cwd=ROOT, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        ids = [_enqueue(n) for n in range(1, N_BEFORE + 1)]
        # when Redis restarts (SIGTERM, nothing saved) while Homeria calls are in flight
        wait_until(lambda: _synced(ids) >= 6, timeout=30, message="first syncs")
        assert _synced(ids) < N_BEFORE, "every change synced before the restart"
        private_redis.stop()
        time.sleep(2)  # down long enough for every worker to notice and try to reconnect
        private_redis.start()
        back_at = time.monotonic()
        assert private_redis.proc and brokerinfo.queue_depth("homeria") == 0  # data lost
        ids += [_enqueue(n) for n in range(N_BEFORE + 1, N_BEFORE + N_AFTER + 1)]
        # then every change is synced within 30 s of Redis being back ...
        wait_until(lambda: _synced(ids) == len(ids), timeout=30, interval=0.25,
                   message="every change synced after the Redis restart")
        resumed_s = time.monotonic() - back_at
        # ... no worker exited ...
        for worker in workers:
            assert worker.proc.poll() is None, f"worker exited:\n{worker.log()}"
            assert "Unrecoverable error" not in worker.log_path.read_text(errors="replace")
        assert beat.poll() is None, (tmp_path / "beat.log").read_text(errors="replace")
        # ... and Homeria applied each change exactly once
        applied = Counter(a["new_email"] for a in homeria.state.applied_changes)
        assert set(applied) == {f"moved{n}@example.com"
                                for n in range(1, N_BEFORE + N_AFTER + 1)}
        assert set(applied.values()) == {1}, applied
        print(f"all {len(ids)} changes synced {resumed_s:.1f} s after Redis came back")
    finally:
        if beat is not None and beat.poll() is None:
            beat.terminate()
            beat.wait(timeout=15)
        homeria.stop()
