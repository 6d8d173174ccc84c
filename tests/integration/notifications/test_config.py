"""Every variable read by the notification loaders (policy, SLA) and by relay/alerts.py
refuses a malformed value at start-up: one line naming it, exit 2 — never a silent
default, never a traceback inside a task."""

from __future__ import annotations

import subprocess
import sys

import pytest

from relay import bootstrap
from relay.errors import ConfigurationError
from relay.settings import reset_settings_cache
from tests.support import ROOT, run_cli

MALFORMED = [
    ("ONCALL_ALERT_WINDOW_SECONDS", "a minute"), ("ONCALL_ALERT_WINDOW_SECONDS", "0"),
    ("ONCALL_ALERT_WINDOW_SECONDS", "nan"),
    ("NOTIFY_GIVE_UP_SECONDS", "-1"), ("NOTIFY_GIVE_UP_SECONDS", "a day"),
    ("NOTIFY_GIVE_UP_SECONDS", "inf"),
    ("NOTIFY_CHANNEL_MAX_ATTEMPTS", "2.5"), ("NOTIFY_CHANNEL_BUDGET_SECONDS", "0"),
    ("NOTIFY_RETRY_BASE_SECONDS", "fast"), ("NOTIFY_RETRY_MAX_SECONDS", "inf"),
    ("NOTIFY_CLAIM_SECONDS", "-45"), ("PROMO_YIELD_MAX_SECONDS", "nan"),
    ("PROMO_YIELD_LAG_MS", "-1"), ("PROMO_YIELD_LAG_MS", "soon"),
    ("PROMO_QUIET_HOURS", "9pm-8am"), ("PROMO_UNSUBSCRIBE_URL", "http://shop.example/u"),
    ("NOTIFICATION_SLA_SECONDS", "0"),
    ("SLA_WARN_SECONDS", "0"), ("SLA_ESCALATE_AFTER", "three"),
    ("SLA_PREDICT_HORIZON_SECONDS", "-1"), ("SLA_DRAIN_WINDOW_SECONDS", "nan"),
    ("SLA_HEARTBEAT_STALE_SECONDS", "5 min"), ("SLA_CHECK_BATCH", "1e3"),
]


@pytest.fixture
def fresh_settings():
    reset_settings_cache()
    yield
    reset_settings_cache()


@pytest.mark.parametrize("var,value", MALFORMED)
def test_the_start_up_check_names_the_malformed_variable(database_url, monkeypatch,
                                                         fresh_settings, var, value):
    monkeypatch.setenv(var, value)
    reset_settings_cache()
    with pytest.raises(ConfigurationError) as caught:
        bootstrap.check_config()
    assert str(caught.value).startswith(f"{var} is invalid")
    assert "\n" not in str(caught.value)


def test_good_values_pass_the_start_up_check(database_url, monkeypatch, fresh_settings):
    for var, value in {"ONCALL_ALERT_WINDOW_SECONDS": "0.5", "NOTIFY_GIVE_UP_SECONDS": "3600",
                       "SLA_CHECK_BATCH": "500", "PROMO_QUIET_HOURS": "off"}.items():
        monkeypatch.setenv(var, value)
    reset_settings_cache()
    bootstrap.check_config()


def _one_line(result: subprocess.CompletedProcess, var: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and var in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize("var,value", [("ONCALL_ALERT_WINDOW_SECONDS", "soon"),
                                       ("NOTIFY_GIVE_UP_SECONDS", "0")])
def test_the_cli_refuses_to_start(relay_env, var, value):
    _one_line(run_cli(["status"], dict(relay_env, **{var: value})), var)


def test_a_worker_refuses_to_start_on_a_malformed_alert_window(relay_env):
    env = dict(relay_env, ONCALL_ALERT_WINDOW_SECONDS="-60")
    result = subprocess.run([sys.executable, "-m", "celery", "-A", "relay", "worker"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    _one_line(result, "ONCALL_ALERT_WINDOW_SECONDS")
