"""A stall is never silent: the watchdog (run by beat, not by a worker) alerts on-call when
a queue has no live consumer or its due work waits too long, and `relay status` shows it.
Real PostgreSQL, Redis, worker and beat processes, and the webhook stand-in."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from relay import watchdog
from relay.db import transaction
from relay.settings import reset_settings_cache
from standins.webhook import serve as serve_webhook
from tests.support import ROOT, run_cli, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def webhook(monkeypatch):
    running = serve_webhook()
    monkeypatch.setenv("ONCALL_WEBHOOK_URL", f"{running.url}/hooks/oncall")
    monkeypatch.setenv("STALL_ALERT_SECONDS", "1")
    monkeypatch.setattr(watchdog, "INSPECT_TIMEOUT_S", 0.5)  # one local worker answers fast
    reset_settings_cache()
    yield running
    running.stop()
    monkeypatch.undo()
    reset_settings_cache()


def _stall_alerts(webhook) -> list[str]:
    return [t for t in webhook.state.texts() if "is stalled" in t]


def test_queues_without_a_live_consumer_page_on_call_and_show_in_status(
        relay_env, start_worker, webhook):
    # given a worker on `maintenance` only: every other queue has no live consumer
    start_worker("maintenance")
    watchdog.check()     # the first look: nobody has been alone long enough yet
    assert _stall_alerts(webhook) == []
    # when the watchdog looks again after the threshold (1 s here)
    wait_until(lambda: any(s.stalled for s in watchdog.check().values()), timeout=15,
               interval=0.5, message="a stall")
    # then on-call hears about each queue without a consumer, once, and not about maintenance
    alerts = _stall_alerts(webhook)
    for queue in ("homeria", "notify.transactional", "notify.expedite", "notify.promotions"):
        assert sum(f"Queue {queue} is stalled" in t for t in alerts) == 1, alerts
        assert any("no live consumer" in t for t in alerts)
    assert not any("Queue maintenance is stalled" in t for t in alerts)
    watchdog.check()
    assert len(_stall_alerts(webhook)) == len(alerts), "one alert per stall"
    # a loaded host can miss one worker's inspect reply within the timeout: the view that
    # `relay status` reads is the watchdog's latest, so look until it has counted the worker
    wait_until(lambda: watchdog.check() is not None and watchdog.status_section()
               ["queues"]["maintenance"]["consumers"] == 1, timeout=20, interval=0.5,
               message="the watchdog counting the maintenance worker")
    # and `relay status --json` shows it
    env = dict(relay_env, ONCALL_WEBHOOK_URL=f"{webhook.url}/hooks/oncall",
               STALL_ALERT_SECONDS="1")
    status = run_cli(["status", "--json"], env)
    assert status.returncode == 0, status.stderr
    stalls = json.loads(status.stdout)["stalls"]
    assert "homeria" in stalls["stalled_queues"]
    assert "maintenance" not in stalls["stalled_queues"]
    assert stalls["queues"]["maintenance"]["consumers"] == 1
    assert stalls["watchdog_stale"] is False
    # and due work nobody picks up is a stall too, even with a live consumer
    with transaction() as tx:
        tx.execute("""INSERT INTO outbox (entity_id, kind, task, queue, next_attempt_at,
                                          published_at)
                      VALUES (%s, 'canary', 'relay.canary.run', 'maintenance',
                              now() - interval '10 minutes', now())""", (uuid.uuid4(),))
    state = watchdog.check(["maintenance"])["maintenance"]
    assert state.stalled and "waited" in state.reason
    assert any("Queue maintenance is stalled" in t for t in _stall_alerts(webhook))


def test_beat_runs_the_watchdog_so_a_dead_maintenance_worker_is_noticed(
        relay_env, webhook, tmp_path):
    # given beat alone (no worker at all, the maintenance one included)
    env = dict(relay_env, ONCALL_WEBHOOK_URL=f"{webhook.url}/hooks/oncall",
               STALL_ALERT_SECONDS="2", STALL_CHECK_SECONDS="1")
    with open(tmp_path / "beat.log", "wb") as log:
        beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "relay", "beat", "-l", "INFO",
             "-s", str(tmp_path / "beat-schedule")], env=env, cwd=ROOT, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # then beat's watchdog pages on-call about the maintenance queue itself
        wait_until(lambda: any("Queue maintenance is stalled" in t
                               for t in _stall_alerts(webhook)) or beat.poll() is not None,
                   timeout=30, interval=0.3, message="beat's stall alert")
        assert beat.poll() is None, (tmp_path / "beat.log").read_text(errors="replace")
    finally:
        beat.terminate()
        beat.wait(timeout=15)
