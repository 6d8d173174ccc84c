"""Two real `celery -A relay beat` processes: one schedules, the other takes over when the
leader is killed (kill -9), within 60 s, and no entry runs twice in one period."""

from __future__ import annotations

import itertools
import json
import threading
import time

import pytest

from relay.beatlease import LEADER_LOCK_ID
from relay.db import connection
from tests.support import BeatProcess, wait_until

pytestmark = pytest.mark.e2e

PERIOD = 3.0  # OUTBOX_SWEEP_SECONDS for these beats: the outbox-sweep entry's period
SWEEP = "relay.outbox.sweep"


def _leader_pid() -> int | None:
    """The pid of the beat holding the lease, from its session's application_name."""
    with connection() as conn:
        row = conn.execute(
            """SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)
               WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s AND l.classid = %s
                 AND l.database = (SELECT oid FROM pg_database
                                   WHERE datname = current_database())""",
            (LEADER_LOCK_ID & 0xFFFFFFFF, LEADER_LOCK_ID >> 32)).fetchone()
        conn.commit()
    return int(row["application_name"].rsplit(":", 1)[1]) if row else None


class SentLog:
    """Reads what the beats publish to the maintenance queue (no worker consumes it)."""

    def __init__(self, client) -> None:
        self.client, self.sent, self._stop = client, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self.client.brpop("maintenance", timeout=0.2)
            if item:
                task = json.loads(item[1])["headers"]["task"]
                self.sent.append((time.monotonic(), task))

    def times(self, task: str) -> list[float]:
        return [t for t, name in list(self.sent) if name == task]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def test_standby_beat_takes_over_from_killed_leader_without_running_a_job_twice(
        relay_env, redis_client, tmp_path):
    env = dict(relay_env, OUTBOX_SWEEP_SECONDS=str(PERIOD))
    sent = SentLog(redis_client)
    beats: list[BeatProcess] = []
    try:
        # given two beats, the first of them leading
        beats.append(BeatProcess(env, tmp_path / "beat-a.log"))
        wait_until(_leader_pid, timeout=30, interval=0.2, message="a beat to lead")
        beats.append(BeatProcess(env, tmp_path / "beat-b.log"))
        wait_until(lambda: b"beat: Starting" in beats[1].log_path.read_bytes(), timeout=30,
                   interval=0.2, message="the second beat to start")
        leader = next(b for b in beats if b.proc.pid == _leader_pid())
        standby = next(b for b in beats if b is not leader)
        # while both run, only one schedules: sweeps come once per period, not twice
        wait_until(lambda: len(sent.times(SWEEP)) >= 3, timeout=30, interval=0.1,
                   message="three scheduled sweeps")
        # when the leader is killed right after it sent a sweep
        before = len(sent.times(SWEEP))
        wait_until(lambda: len(sent.times(SWEEP)) > before, timeout=10, interval=0.02,
                   message="the next sweep")
        leader.kill()
        killed_at = time.monotonic()
        # then the standby takes over within 60 s ...
        wait_until(lambda: _leader_pid() == standby.proc.pid, timeout=60, interval=0.2,
                   message=f"the standby to lead\n{standby.log()}")
        took_over_s = time.monotonic() - killed_at
        wait_until(lambda: sent.times(SWEEP)[-1] > killed_at, timeout=60, interval=0.1,
                   message="a sweep sent by the new leader")
        wait_until(lambda: len([t for t in sent.times(SWEEP) if t > killed_at]) >= 2,
                   timeout=30, interval=0.1, message="the new leader's second sweep")
        assert standby.proc.poll() is None
    finally:
        for beat in beats:
            beat.kill()
        sent.stop()
    # ... continuing the schedule: no sweep came sooner than one period after the last
    times = sent.times(SWEEP)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    print(f"takeover {took_over_s:.1f} s; sweep gaps {[round(g, 2) for g in gaps]}")
    assert took_over_s < 60
    assert min(gaps) > PERIOD - 0.5, f"a job ran twice in one period: gaps {gaps}"


def test_status_names_the_leading_beat_and_each_jobs_last_run(relay_env, tmp_path):
    from tests.support import run_cli

    def status() -> dict:
        result = run_cli(["status", "--json"], relay_env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    beat = BeatProcess(dict(relay_env, OUTBOX_SWEEP_SECONDS="1"), tmp_path / "beat.log")
    try:
        wait_until(_leader_pid, timeout=30, interval=0.2, message="the beat to lead")
        doc = wait_until(lambda: (d := status())["beat"]["last_runs"].get("outbox-sweep")
                         and d, timeout=30, interval=0.5, message="a sweep recorded")
    finally:
        beat.kill()
    assert doc["beat"]["leader"]["beat"].endswith(f":{beat.proc.pid}")
