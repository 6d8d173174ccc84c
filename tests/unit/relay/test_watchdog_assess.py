"""The stall decision, row by row (relay/watchdog.py: assess)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relay.watchdog import assess

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
T = 300


def _ago(seconds: float | None) -> datetime | None:
    return None if seconds is None else NOW - timedelta(seconds=seconds)


def _row(last_consumer_ago=None, first_seen_ago=3600, stalled_ago=None) -> dict:
    ago = _ago
    return {"last_consumer_at": ago(last_consumer_ago), "first_seen_at": ago(first_seen_ago),
            "stalled_since": ago(stalled_ago)}


@pytest.mark.parametrize(("row", "consumers", "wait", "stalled", "reason"), [
    (_row(last_consumer_ago=10), 1, None, False, None),
    (_row(last_consumer_ago=10), 0, None, False, None),                 # gone 10 s: not yet
    (_row(last_consumer_ago=301), 0, None, True, "no live consumer for 301 s"),
    (_row(last_consumer_ago=400), None, None, True, "could not be reached for 400 s"),
    (_row(first_seen_ago=30), 0, None, False, None),                    # watchdog just started
    (_row(first_seen_ago=900), 0, None, True, "no live consumer for 900 s"),
    (_row(last_consumer_ago=1), 2, 299.0, False, None),
    (_row(last_consumer_ago=1), 2, 300.0, True, "has waited 300 s"),    # consumers, but stuck
])
def test_a_queue_is_stalled_past_the_threshold_only(row, consumers, wait, stalled, reason):
    result = assess(row, consumers, wait, T, NOW)
    assert result.stalled is stalled
    if reason:
        assert reason in result.reason
    else:
        assert result.reason is None


def test_a_consumer_seen_now_moves_the_last_seen_time():
    assert assess(_row(last_consumer_ago=500), 1, None, T, NOW).last_consumer_at == NOW
    assert assess(_row(last_consumer_ago=500), 0, None, T, NOW).last_consumer_at \
        == NOW - timedelta(seconds=500)


def test_a_continuing_stall_keeps_its_start():
    row = _row(last_consumer_ago=1000, stalled_ago=700)
    assert assess(row, 0, None, T, NOW).stalled_since == NOW - timedelta(seconds=700)
    assert assess(_row(last_consumer_ago=1000), 0, None, T, NOW).stalled_since == NOW


@pytest.mark.parametrize("value", ["abc", "0", "-5", "inf", "nan"])
@pytest.mark.parametrize("var", ["STALL_ALERT_SECONDS", "STALL_CHECK_SECONDS"])
def test_stall_settings_refuse_a_malformed_value_naming_the_variable(monkeypatch, var, value):
    from relay.errors import ConfigurationError
    from relay.settings import load_settings

    monkeypatch.setenv("DATABASE_URL", "postgresql://u@localhost/db")
    monkeypatch.setenv("REDIS_URL", "redis://localhost:6379/0")
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigurationError, match=f"^{var} is invalid"):
        load_settings()


def test_stall_settings_default_to_five_minutes_checked_every_thirty_seconds(monkeypatch):
    from relay.settings import load_settings

    monkeypatch.delenv("STALL_ALERT_SECONDS", raising=False)
    monkeypatch.delenv("STALL_CHECK_SECONDS", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@localhost/db")
    monkeypatch.setenv("REDIS_URL", "redis://localhost:6379/0")
    settings = load_settings()
    assert (settings.stall_alert_seconds, settings.stall_check_seconds) == (300, 30)
