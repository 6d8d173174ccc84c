import pytest

from relay.errors import ConfigurationError
from relay.settings import load_settings

BASE = {"DATABASE_URL": "postgresql://u@localhost/db", "REDIS_URL": "redis://localhost:6379/0"}


@pytest.fixture
def env(monkeypatch):
    from relay.settings import Settings

    for field in Settings.model_fields.values():
        monkeypatch.delenv(field.alias, raising=False)
    for k, v in BASE.items():
        monkeypatch.setenv(k, v)
    return monkeypatch


def test_defaults_match_the_contract(env):
    s = load_settings()
    assert s.brands == ("acme", "globex")
    assert s.notification_sla_seconds == 7200
    assert s.outbox_sweep_seconds == 10 and s.outbox_lease_seconds == 60
    assert s.homeria_max_rps == 50
    assert s.oncall_webhook_url is None


def test_brands_are_a_comma_separated_list(env):
    env.setenv("BRANDS", " Acme, globex ,initech ")
    assert load_settings().brands == ("acme", "globex", "initech")


def test_smtp_url_is_parsed_with_starttls_and_credentials(env):
    env.setenv("SMTP_URL", "smtp://user:p%40ss@mail.example:587?starttls=1")
    smtp = load_settings().smtp
    assert (smtp.host, smtp.port, smtp.starttls, smtp.username, smtp.password) == (
        "mail.example", 587, True, "user", "p@ss")
    assert "p@ss" not in repr(smtp)


def test_http_is_refused_off_loopback_but_fine_on_it(env):
    env.setenv("HOMERIA_BASE_URL", "http://[::1]:8091/")
    assert load_settings().homeria_base_url == "http://[::1]:8091"
    env.setenv("HOMERIA_BASE_URL", "http://api.homeria.example")
    with pytest.raises(ConfigurationError, match="HOMERIA_BASE_URL"):
        load_settings()


def test_blank_optional_variables_mean_unset(env):
    env.setenv("ONCALL_WEBHOOK_URL", "")
    assert load_settings().oncall_webhook_url is None


def test_flower_basic_auth_needs_user_and_password(env):
    env.setenv("FLOWER_BASIC_AUTH", "onlyuser")
    with pytest.raises(ConfigurationError, match="FLOWER_BASIC_AUTH"):
        load_settings()


def test_pii_retention_days_defaults_to_30_and_must_be_positive(env):
    assert load_settings().pii_retention_days == 30
    env.setenv("PII_RETENTION_DAYS", "0")
    with pytest.raises(ConfigurationError, match=r"^PII_RETENTION_DAYS is invalid"):
        load_settings()
    env.setenv("PII_RETENTION_DAYS", "soon")
    with pytest.raises(ConfigurationError, match=r"^PII_RETENTION_DAYS is invalid"):
        load_settings()
