"""Before the SLA check's first run its heartbeat is "not yet run", counted from start-up,
not "stale"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from notifications.sla import heartbeat
from notifications.sla.check import check
from notifications.sla.heartbeat import check_heartbeat
from tests.support import run_cli


def test_status_before_the_first_check_says_not_yet_run_and_nobody_is_alerted(
        relay_env, captured, monkeypatch):
    # this test process may have imported sla minutes ago (a long suite): start it afresh
    monkeypatch.setattr(heartbeat, "_STARTED_AT", datetime.now(UTC))
    result = run_cli(["status", "--json"], relay_env)
    assert result.returncode == 0, result.stderr
    beat = json.loads(result.stdout)["sla"]["heartbeat"]
    assert (beat["not_yet_run"], beat["stale"], beat["last_run"]) == (True, False, None)
    assert check_heartbeat()["stale"] is False and captured.keys() == []


def test_a_check_that_never_runs_alerts_once_counted_from_start_up(db, captured,
                                                                   monkeypatch):
    monkeypatch.setattr(heartbeat, "_STARTED_AT", datetime.now(UTC) - timedelta(minutes=6))
    state = check_heartbeat()
    assert (state["not_yet_run"], state["stale"]) == (True, True)
    assert state["waiting_since_startup_s"] > 300
    assert check_heartbeat()["stale"] is True
    assert captured.keys() == ["sla.heartbeat"]              # once per silence
    check()
    state = check_heartbeat()
    assert (state["stale"], "not_yet_run" in state) == (False, False)
    assert captured.keys() == ["sla.heartbeat"]
