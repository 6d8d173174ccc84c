"""Broker failover mid-run (issue 18): work keeps flowing through a Redis Sentinel failover
(the master SIGKILLed) and through a RabbitMQ restart. Real servers, real producer, worker
and beat processes; the canary's counters tell lost (never done) from applied twice
(effects > 1)."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from relay.db import connection
from tests.support import ROOT, BeatProcess, wait_until
from tests.support.brokers import PrivateRabbit, SentinelSet

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# A steady producer in its own process, configured only by its environment (as an OMS
# would be): it never fails for a broker outage (the outbox keeps the row).
PRODUCER = """
import sys, time
from relay import canary
count, rate, work_ms = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
for _ in range(count):
    print(canary.send("maintenance", work_ms=work_ms), flush=True)
    time.sleep(1 / rate)
"""

COUNT, RATE, WORK_MS = 240, 20.0, 150
RESUME_WITHIN_S = 60


def _db_now() -> float:
    with connection() as conn:
        now = conn.execute("SELECT extract(epoch FROM clock_timestamp()) AS t").fetchone()["t"]
        conn.commit()
    return float(now)


def _done_count() -> int:
    with connection() as conn:
        n = conn.execute("SELECT count(*) AS n FROM canaries WHERE done_at IS NOT NULL"
                         ).fetchone()["n"]
        conn.commit()
    return int(n)


def _canaries(ids) -> list[dict]:
    with connection() as conn:
        rows = conn.execute(
            """SELECT id, runs, effects, extract(epoch FROM done_at) AS done
               FROM canaries WHERE id = ANY(%s)""", (list(ids),)).fetchall()
        conn.commit()
    return rows


def _run_through_outage(env, start_worker, tmp_path, outage) -> dict:
    """Workers + beat + producer on `env`; `outage()` mid-run; then every canary must be
    done exactly once, no worker exited, and delivery resumed within the deadline."""
    env = dict(env, OUTBOX_LEASE_SECONDS="10")
    workers = [start_worker("maintenance", concurrency=4, env=env, wait=True)
               for _ in range(2)]
    beat = BeatProcess(env, tmp_path / "beat.log")
    producer = subprocess.Popen([sys.executable, "-c", PRODUCER, str(COUNT), str(RATE),
                                 str(WORK_MS)], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=open(tmp_path / "producer.log", "wb"), text=True)
    try:
        # mid-run: once work flows (some canaries done), with most still to come
        wait_until(lambda: _done_count() >= COUNT // 6, timeout=60, interval=0.2,
                   message="the first canaries done")
        outage_at = _db_now()
        outage()
        out, _ = producer.communicate(timeout=60)
        ids = [uuid.UUID(line) for line in out.split()]
        assert producer.returncode == 0 and len(ids) == COUNT, (tmp_path / "producer.log")

        def all_done() -> bool:
            for worker in workers:  # fail at once, with its log, if a worker exited
                assert worker.proc.poll() is None, f"a worker exited:\n{worker.log()}"
            return all(r["done"] for r in _canaries(ids))

        wait_until(all_done, timeout=120, interval=0.5, message="every canary done")
    finally:
        if producer.poll() is None:
            producer.kill()
        beat.kill()
    rows = _canaries(ids)
    assert [r for r in rows if r["effects"] != 1] == [], "applied twice or never"
    done = sorted(float(r["done"]) for r in rows)
    before = [t for t in done if t < outage_at]
    after = [t for t in done if t >= outage_at]
    resumed_s = after[0] - outage_at if after else None
    # the longest stretch with nothing done, from the outage on
    stall = max(b - a for a, b in zip([before[-1] if before else outage_at, *after], after,
                                      strict=False))
    figures = {"done_before_outage": len(before),
               "first_done_after_outage_s": round(resumed_s, 1),
               "longest_stall_s": round(stall, 1),
               "redelivered": sum(r["runs"] - 1 for r in rows)}
    print(figures)
    assert before and len(after) > COUNT // 2, figures  # the fault came mid-run
    assert stall < RESUME_WITHIN_S, figures
    return figures


@pytest.mark.timeout(300)
def test_sentinel_master_killed_mid_run_loses_nothing_and_applies_nothing_twice(
        relay_env, start_worker, tmp_path):
    sentinels = SentinelSet(tmp_path)
    try:
        first_master = sentinels.master_port_now()

        def kill_master():
            sentinels.kill_master()
            # the replica is promoted and the Sentinels say so
            wait_until(lambda: sentinels.master_port_now() == sentinels.replica_port,
                       timeout=60, interval=0.2, message="the replica promoted")

        _run_through_outage(dict(relay_env, **sentinels.env()), start_worker, tmp_path,
                            kill_master)
        assert first_master != sentinels.master_port_now()
    finally:
        sentinels.stop()


@pytest.mark.timeout(300)
def test_rabbitmq_restarted_mid_run_loses_nothing_and_applies_nothing_twice(
        relay_env, start_worker, tmp_path):
    rabbit = PrivateRabbit(tmp_path)
    try:
        def restart():
            rabbit.stop()
            rabbit.start()

        _run_through_outage(dict(relay_env, BROKER_URL=rabbit.url), start_worker, tmp_path,
                            restart)
    finally:
        rabbit.stop()
