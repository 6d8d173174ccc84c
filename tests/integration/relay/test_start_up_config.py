"""Every variable the email sync, the dead letters and the runtime read refuses a
malformed value when a process starts: one line naming it, exit 2 — never a silent
default, never a traceback inside a task later."""

from __future__ import annotations

import subprocess
import sys

import pytest

from relay.cli import main
from relay.settings import reset_settings_cache
from sync_worker.policy import reset_policy_cache
from tests.support import ROOT, run_cli

GARBAGE = [
    ("HOMERIA_RETRY_BASE_SECONDS", "fast"),
    ("HOMERIA_RETRY_BASE_SECONDS", "nan"),
    ("HOMERIA_RETRY_BASE_SECONDS", "0"),
    ("HOMERIA_RETRY_MAX_SECONDS", "inf"),
    ("HOMERIA_RETRY_MAX_SECONDS", "-5"),
    ("HOMERIA_RETRY_GIVE_UP_SECONDS", "1 day"),
    ("HOMERIA_RETRY_GIVE_UP_SECONDS", "nan"),
    ("HOMERIA_BREAKER_THRESHOLD", "2.5"),
    ("HOMERIA_BREAKER_THRESHOLD", "five"),
    ("HOMERIA_BREAKER_COOLDOWN_SECONDS", "-1"),
    ("HOMERIA_BREAKER_COOLDOWN_SECONDS", "NaN"),
    ("DEAD_LETTER_RETENTION_DAYS", "forever"),
    ("DEAD_LETTER_RETENTION_DAYS", "0"),
    ("DEAD_LETTER_RETENTION_DAYS", "inf"),
    ("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem"),
    ("CURL_CA_BUNDLE", "/nonexistent/ca.pem"),
    ("PROMETHEUS_MULTIPROC_DIR", "/nonexistent/metrics"),
    # tunables that were constants in code, now registry fields
    ("HOMERIA_CONNECT_TIMEOUT_SECONDS", "0"),
    ("HOMERIA_READ_TIMEOUT_SECONDS", "nan"),
    ("HOMERIA_CLAIM_LEASE_SECONDS", "10"),      # shorter than connect + read: 13.05 s
    ("HOMERIA_MAX_TOKEN_WAIT_SECONDS", "-0.5"),
    ("HOMERIA_RECONCILE_SECONDS", "5"),
    ("HOMERIA_RECONCILE_SAMPLE", "many"),
    ("NOTIFY_CONNECT_TIMEOUT_SECONDS", "inf"),
    ("NOTIFY_READ_TIMEOUT_SECONDS", "0"),
    ("SLA_CHECK_SECONDS", "0.5"),
    ("SLA_ROLLUP_SECONDS", "soon"),
    ("ONCALL_ALERT_FLUSH_SECONDS", "0"),
    ("DEAD_LETTER_PURGE_BATCH", "0"),
    ("PII_RETENTION_BATCH", "1.5"),
]


@pytest.fixture
def fresh_config(monkeypatch, relay_env):
    for name, value in relay_env.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    reset_policy_cache()
    yield monkeypatch
    monkeypatch.undo()
    reset_settings_cache()
    reset_policy_cache()


@pytest.mark.parametrize(("var", "value"), GARBAGE)
def test_relay_status_refuses_a_malformed_value_naming_it(fresh_config, capsys, var, value):
    # given one variable set to garbage (in-process: the same main() the CLI runs)
    fresh_config.setenv(var, value)
    fresh_config.setattr(sys, "argv", ["relay", "status"])
    # when `relay status` starts
    with pytest.raises(SystemExit) as stopped:
        main()
    # then it stops with exit 2 and one line naming the variable
    err = capsys.readouterr().err
    assert stopped.value.code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and var in lines[0] and "configuration error" in lines[0], err


def test_blank_means_the_default_not_garbage(fresh_config):
    from relay.deadletters import retention
    from sync_worker.policy import get_policy

    for var in ("HOMERIA_RETRY_BASE_SECONDS", "DEAD_LETTER_RETENTION_DAYS",
                "REQUESTS_CA_BUNDLE", "PROMETHEUS_MULTIPROC_DIR"):
        fresh_config.setenv(var, "")
    reset_settings_cache()
    assert get_policy().retry_base_s == 2.0
    assert retention().days == 30


def test_blank_new_tunables_mean_their_defaults(fresh_config):
    from relay.settings import get_settings
    from sync_worker.policy import get_policy

    for var in ("HOMERIA_CLAIM_LEASE_SECONDS", "HOMERIA_MAX_TOKEN_WAIT_SECONDS",
                "DEAD_LETTER_PURGE_BATCH", "SLA_CHECK_SECONDS"):
        fresh_config.setenv(var, " ")
    reset_settings_cache()
    assert (get_policy().claim_lease_s, get_policy().max_token_wait_s) == (20.0, 0.5)
    assert get_settings().dead_letter_purge_batch == 1000
    assert get_settings().sla_check_seconds == 60


def test_a_lease_longer_than_the_timeouts_is_accepted(fresh_config):
    from sync_worker.policy import get_policy

    fresh_config.setenv("HOMERIA_READ_TIMEOUT_SECONDS", "30")
    fresh_config.setenv("HOMERIA_CLAIM_LEASE_SECONDS", "45")
    reset_settings_cache()
    assert get_policy().claim_lease_s == 45


def _refused(result: subprocess.CompletedProcess, var: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and var in lines[0] and "Traceback" not in result.stderr, lines


def test_celery_beat_refuses_a_malformed_schedule(relay_env):
    env = dict(relay_env, SLA_CHECK_SECONDS="every minute")
    result = subprocess.run([sys.executable, "-m", "celery", "-A", "relay", "beat"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    _refused(result, "SLA_CHECK_SECONDS")


def test_relay_serve_refuses_a_malformed_variable(relay_env):
    _refused(run_cli(["serve", "--port", "1"], dict(relay_env, API_RATE_LIMIT_RPS="lots")),
             "API_RATE_LIMIT_RPS")


def test_relay_status_subprocess_refuses_nan_give_up_age(relay_env):
    result = run_cli(["status"], dict(relay_env, HOMERIA_RETRY_GIVE_UP_SECONDS="nan"))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "HOMERIA_RETRY_GIVE_UP_SECONDS" in lines[0], result.stderr


def test_celery_worker_refuses_a_missing_ca_bundle(relay_env):
    env = dict(relay_env, REQUESTS_CA_BUNDLE="/nonexistent/ca.pem")
    result = subprocess.run([sys.executable, "-m", "celery", "-A", "relay", "worker"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "REQUESTS_CA_BUNDLE" in lines[0], result.stderr
