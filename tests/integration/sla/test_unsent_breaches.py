"""At the deadline every unsent order update breaches — pending, retrying (waiting out an
outage) or dead-lettered — and its breach alert survives a process killed between
recording the breach and posting it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from notifications.sla.check import check
from relay.settings import reset_settings_cache
from standins import webhook
from tests.integration.notifications.conftest import drain
from tests.integration.sla.conftest import past_event, rows, sql
from tests.support import ROOT, wait_until


def test_dead_lettered_and_retrying_updates_get_the_breach_alert_and_delay_notice(
        wired, captured, monkeypatch):
    monkeypatch.setenv("NOTIFY_CHANNEL_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("NOTIFY_RETRY_BASE_SECONDS", "600")
    # given: one update dead-lettered long before its deadline (both channels refuse it
    # for good), one waiting out an outage of its channels
    dead = past_event("packed", minutes_ago=60, customer__email="bounce@example.com",
                      customer__phone="+15005550001")
    assert drain() == ["fallback", "dead_letter"]
    wired["smtp"].faults.update(error_rate=1.0, error_status=451)
    wired["sms"].faults.update(error_rate=1.0, error_status=503)
    waiting = past_event("shipped", minutes_ago=60)
    assert drain()[:2] == ["fallback", "waiting"]
    assert check()["breached"] == 0                       # not yet due
    # when: the check runs past both deadlines
    later = datetime.now(UTC) + timedelta(minutes=61)
    assert check(later)["breached"] == 2
    # then: both breached, alerted and given a delay notice
    assert captured.keys() == ["dead_letters.notification", "sla.breach", "sla.breach"]
    breaches = {b["event_id"]: b for b in sql("SELECT * FROM sla_breaches")}
    assert set(breaches) == {dead["event_id"], waiting["event_id"]}
    assert breaches[dead["event_id"]]["delay_channel"] == "email"
    assert breaches[waiting["event_id"]]["delay_channel"] == "email"
    notices = sql("SELECT order_id FROM order_events WHERE type = 'delay_notice'")
    assert {n["order_id"] for n in notices} == {dead["order_id"], waiting["order_id"]}
    assert all(b["alerted_at"] is not None for b in breaches.values())
    assert check(later + timedelta(minutes=5))["breached"] == 0   # once


def test_a_failed_fallback_made_good_is_not_a_breach(wired, captured):
    doc = past_event("packed", minutes_ago=60, customer__email="bounce@example.com")
    assert drain() == ["fallback", "sent"]
    assert check(datetime.now(UTC) + timedelta(minutes=61))["breached"] == 0
    assert rows(doc["event_id"])["email"]["state"] == "failed" and captured.keys() == []


@pytest.fixture
def hook(monkeypatch):
    with webhook.serve() as running:
        monkeypatch.setenv("ONCALL_WEBHOOK_URL", f"{running.url}/services/T000/B000/XXXX")
        # the failed first post opened the key's rate-limit window: keep it short
        monkeypatch.setenv("ONCALL_ALERT_WINDOW_SECONDS", "0.2")
        reset_settings_cache()
        yield running
    monkeypatch.undo()
    reset_settings_cache()


# The check in a process of its own that is killed (SIGKILL) right after the breach is
# committed, before the alert is posted.
_KILLED_CHECK = """
import os, signal, sys
from datetime import datetime
from notifications.sla import delay
from notifications.sla.check import check
delay.alert_breach = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
check(datetime.fromisoformat(sys.argv[1]))
"""


def test_a_breach_alert_lost_to_a_kill_is_posted_by_a_later_check(relay_env, hook):
    doc = past_event("shipped", minutes_ago=125)
    now = datetime.now(UTC)
    env = dict(relay_env, ONCALL_WEBHOOK_URL=f"{hook.url}/services/T000/B000/XXXX")
    killed = subprocess.run([sys.executable, "-c", _KILLED_CHECK, now.isoformat()], env=env,
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert killed.returncode == -9, killed.stderr
    (breach,) = sql("SELECT * FROM sla_breaches")
    assert breach["event_id"] == doc["event_id"] and breach["alerted_at"] is None
    assert hook.state.posts() == []
    # a check soon after leaves it to the (possibly still posting) first try
    assert check(now + timedelta(seconds=30))["alerts_reposted"] == 0
    # a minute on, the next check posts it: at least once, and only once after that
    assert check(now + timedelta(seconds=90))["alerts_reposted"] == 1
    (post,) = hook.state.wait_for(1)
    assert "SLA breached" in post["text"] and doc["order_id"] in post["text"]
    assert doc["event_id"] in json.dumps(post)
    assert sql("SELECT alerted_at FROM sla_breaches")[0]["alerted_at"] is not None
    assert check(now + timedelta(minutes=5))["alerts_reposted"] == 0
    assert len(hook.state.posts()) == 1


def test_a_webhook_down_at_breach_time_gets_the_alert_once_it_is_back(db, broker, hook):
    doc = past_event("shipped", minutes_ago=125)
    hook.faults.update(error_rate=1.0, error_status=503)
    now = datetime.now(UTC)
    assert check(now)["breached"] == 1
    assert sql("SELECT alerted_at FROM sla_breaches")[0]["alerted_at"] is None
    hook.faults.reset()
    wait_until(lambda: sql("SELECT clock_timestamp() > max(window_ends_at) AS closed"
                           " FROM alert_windows")[0]["closed"], timeout=5, message="window")
    assert check(now + timedelta(seconds=90))["alerts_reposted"] == 1
    (post,) = hook.state.wait_for(1)
    assert doc["order_id"] in post["text"]
