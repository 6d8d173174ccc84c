"""The settings registry is grouped by feature: each group is its own class, `Settings`
holds them all, and a group view carries exactly that group's values."""

from __future__ import annotations

import pytest

from relay.errors import ConfigurationError
from relay.settings import GROUPS, Settings, load_settings
from relay.settings.notify import NotifySettings
from relay.settings.sync import SyncSettings

BASE = {"DATABASE_URL": "postgresql://u@localhost/db", "REDIS_URL": "redis://localhost:6379/0"}


@pytest.fixture
def env(monkeypatch):
    for field in Settings.model_fields.values():
        monkeypatch.delenv(field.alias, raising=False)
    for k, v in BASE.items():
        monkeypatch.setenv(k, v)
    return monkeypatch


def test_every_field_belongs_to_exactly_one_group():
    owners: dict[str, list[str]] = {}
    for group, cls in GROUPS.items():
        for name in cls.model_fields:
            owners.setdefault(name, []).append(group)
    assert set(owners) == set(Settings.model_fields)
    assert {n: g for n, g in owners.items() if len(g) > 1} == {}


def test_a_group_view_carries_that_groups_values(env):
    env.setenv("HOMERIA_MAX_RPS", "12")
    env.setenv("NOTIFY_READ_TIMEOUT_SECONDS", "4")
    s = load_settings()
    assert isinstance(s.sync, SyncSettings) and s.sync.homeria_max_rps == 12
    assert isinstance(s.notify, NotifySettings) and s.notify.provider_timeout == (3.05, 4)
    assert s.sync.homeria_timeout == s.homeria_timeout == (3.05, 10)
    assert not hasattr(s.sync, "notify_read_timeout_seconds")


def test_the_runtime_is_reported_first(env):
    # two bad variables: the one every process needs is the one named
    env.delenv("DATABASE_URL")
    env.setenv("SLA_WARN_SECONDS", "soon")
    with pytest.raises(ConfigurationError, match=r"^DATABASE_URL is not set"):
        load_settings()


@pytest.mark.parametrize(("var", "value", "message"), [
    ("PROMO_QUIET_HOURS", "9pm-8am", "PROMO_QUIET_HOURS is invalid: use like 21-8, or off"),
    ("PROMO_QUIET_HOURS", "8-8", "PROMO_QUIET_HOURS is invalid: hours 0-24, start != end"),
    ("PROMO_UNSUBSCRIBE_URL", "http://shop.example/u",
     "PROMO_UNSUBSCRIBE_URL is invalid: must be https (RFC 8058)"),
    ("ONCALL_ALERT_WINDOW_SECONDS", "inf", "ONCALL_ALERT_WINDOW_SECONDS is invalid"),
    ("HOMERIA_CLAIM_LEASE_SECONDS", "13", "HOMERIA_CLAIM_LEASE_SECONDS is invalid: must be"
     " longer than HOMERIA_CONNECT_TIMEOUT_SECONDS + HOMERIA_READ_TIMEOUT_SECONDS (13.05 s)"),
])
def test_a_malformed_value_is_one_line_naming_it(env, var, value, message):
    env.setenv(var, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_quiet_hours_parse_and_turn_off(env):
    env.setenv("PROMO_QUIET_HOURS", " 22-7 ")
    assert load_settings().quiet_hours == (22, 7)
    env.setenv("PROMO_QUIET_HOURS", "OFF")
    assert load_settings().quiet_hours is None
    env.setenv("PROMO_QUIET_HOURS", "")
    assert load_settings().quiet_hours == (21, 8)
