"""The dead-man heartbeat of the check, `relay status`, and one webhook summary per burst."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from notifications.sla.check import check
from notifications.sla.heartbeat import check_heartbeat
from relay import alerts
from relay.settings import reset_settings_cache
from standins import webhook
from tests.integration.sla.conftest import past_event
from tests.support import run_cli, wait_until


def test_a_silent_check_makes_status_stale_and_alerts_once(relay_env, captured):
    check(datetime.now(UTC) - timedelta(minutes=6))        # the last run, 6 min ago
    result = run_cli(["status", "--json"], relay_env)
    assert result.returncode == 0, result.stderr
    section = json.loads(result.stdout)["sla"]
    assert section["heartbeat"]["stale"] is True and section["heartbeat"]["age_s"] > 300
    assert {"otnr_24h", "unsent", "late", "oldest_unsent_age_s"} <= set(section)
    # the status run above noticed first and alerted; nobody alerts again for this silence
    assert check_heartbeat()["stale"] is True
    assert captured.keys() == []
    check()                                                # it runs again: fresh
    assert check_heartbeat()["stale"] is False
    check(datetime.now(UTC) - timedelta(minutes=6))        # silent again: a new alert
    assert check_heartbeat()["stale"] is True
    assert captured.keys() == ["sla.heartbeat"]


@pytest.fixture
def hook(monkeypatch):
    with webhook.serve() as running:
        monkeypatch.setenv("ONCALL_WEBHOOK_URL", f"{running.url}/services/T000/B000/XXXX")
        monkeypatch.setenv("ONCALL_ALERT_WINDOW_SECONDS", "0.5")
        monkeypatch.setenv("SLA_ESCALATE_AFTER", "100")
        reset_settings_cache()
        yield running
    monkeypatch.undo()
    reset_settings_cache()


def test_a_burst_of_breaches_reaches_the_webhook_as_one_alert_and_one_summary(db, broker,
                                                                             hook):
    for _ in range(5):
        past_event("packed", minutes_ago=125)
    assert check()["breached"] == 5
    (first,) = hook.state.wait_for(1)
    assert "SLA breached" in first["text"]
    wait_until(lambda: alerts.flush_due() or hook.state.posts()[1:], timeout=5,
               message="the burst summary")
    posts = hook.state.wait_for(2)
    assert len(posts) == 2
    assert "4 more SLA breaches" in posts[1]["text"] and "packed" in posts[1]["text"]
    assert "@example.com" not in json.dumps(posts)
