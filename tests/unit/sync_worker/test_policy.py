"""The sync knobs: defaults, overrides, and one clear error naming a bad variable."""

import pytest

from relay.errors import ConfigurationError
from relay.settings import reset_settings_cache
from sync_worker.policy import get_policy, reset_policy_cache


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1/x")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    for name in ("HOMERIA_RETRY_BASE_SECONDS", "HOMERIA_RETRY_MAX_SECONDS",
                 "HOMERIA_RETRY_GIVE_UP_SECONDS", "HOMERIA_BREAKER_THRESHOLD",
                 "HOMERIA_BREAKER_COOLDOWN_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    reset_settings_cache()
    reset_policy_cache()
    yield
    reset_settings_cache()
    reset_policy_cache()


def test_defaults():
    p = get_policy()
    assert (p.retry_base_s, p.retry_max_s, p.give_up_s) == (2, 600, 86400)
    assert (p.breaker_threshold, p.breaker_cooldown_s) == (5, 30)


def test_overrides(monkeypatch):
    monkeypatch.setenv("HOMERIA_BREAKER_THRESHOLD", "3")
    monkeypatch.setenv("HOMERIA_RETRY_BASE_SECONDS", "0.5")
    monkeypatch.setenv("HOMERIA_MAX_RPS", "25")
    reset_settings_cache()
    p = get_policy()
    assert (p.breaker_threshold, p.retry_base_s, p.max_rps) == (3, 0.5, 25)


@pytest.mark.parametrize("value", ["soon", "-1", "0"])
def test_bad_value_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("HOMERIA_BREAKER_THRESHOLD", value)
    with pytest.raises(ConfigurationError, match="HOMERIA_BREAKER_THRESHOLD"):
        get_policy()
