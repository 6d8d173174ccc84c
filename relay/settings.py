"""relay's configuration: environment variables read once, validated at start-up.

Every variable from `docs/contracts/relay.md` lives here and nowhere else. `get_settings()`
loads them on first use and caches the result; a missing or malformed variable raises
`ConfigurationError` with one line naming it, which the CLI and the Celery entry points
print without a traceback.
"""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from relay.errors import ConfigurationError

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_secure_url(value: str, name: str) -> str:
    """https everywhere; plain http only toward loopback (the stand-ins)."""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{name} must be an http(s) URL, got {value!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(f"{name} must use https (plain http only for loopback)")
    return value.rstrip("/")


class SmtpTarget:
    """SMTP_URL parsed: smtp://user:pass@host:587?starttls=1 or smtps://host:465."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:pass@host:587?starttls=1")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.url = url
        self.host: str = parts.hostname
        self.ssl = parts.scheme == "smtps"
        self.port: int = parts.port or (465 if self.ssl else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = query.get("starttls", "0").lower() in {"1", "true", "yes"}
        self.timeout = float(query.get("timeout", "10"))

    def __repr__(self) -> str:  # never print the password
        return f"SmtpTarget({self.host}:{self.port}, ssl={self.ssl}, starttls={self.starttls})"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str = Field(alias="DATABASE_URL")
    redis_url: str = Field(alias="REDIS_URL")

    homeria_base_url: str = Field("http://127.0.0.1:8091", alias="HOMERIA_BASE_URL")
    homeria_api_token: str = Field("dev-homeria-token", alias="HOMERIA_API_TOKEN", min_length=1)
    homeria_signing_secret: str = Field(
        "dev-homeria-signing-secret", alias="HOMERIA_SIGNING_SECRET", min_length=1
    )
    homeria_max_rps: float = Field(50, alias="HOMERIA_MAX_RPS", ge=0)

    smtp_url: str = Field("smtp://127.0.0.1:8025", alias="SMTP_URL")
    email_from: str = Field("Relay Shop <orders@shop.example>", alias="EMAIL_FROM")
    promo_email_from: str = Field(
        "Relay Shop Offers <offers@shop.example>", alias="PROMO_EMAIL_FROM"
    )

    sms_api_url: str = Field("http://127.0.0.1:8092", alias="SMS_API_URL")
    sms_account_sid: str = Field("ACdev0000000000000000000000000000", alias="SMS_ACCOUNT_SID")
    sms_auth_token: str = Field("dev-sms-token", alias="SMS_AUTH_TOKEN")
    sms_from: str = Field("+15005550006", alias="SMS_FROM")

    push_api_url: str = Field("http://127.0.0.1:8093", alias="PUSH_API_URL")
    push_project_id: str = Field("relay-dev", alias="PUSH_PROJECT_ID")
    push_api_token: str = Field("dev-push-token", alias="PUSH_API_TOKEN")

    oncall_webhook_url: str | None = Field(None, alias="ONCALL_WEBHOOK_URL")
    flower_basic_auth: str | None = Field(None, alias="FLOWER_BASIC_AUTH")
    brands: Annotated[tuple[str, ...], NoDecode] = Field(("acme", "globex"), alias="BRANDS")
    sentry_dsn: str | None = Field(None, alias="SENTRY_DSN")
    sentry_environment: str = Field("development", alias="SENTRY_ENVIRONMENT")

    notification_sla_seconds: int = Field(7200, alias="NOTIFICATION_SLA_SECONDS", gt=0)
    outbox_sweep_seconds: float = Field(10, alias="OUTBOX_SWEEP_SECONDS", gt=0)
    outbox_lease_seconds: int = Field(60, alias="OUTBOX_LEASE_SECONDS", gt=0)

    log_level: str = Field("INFO", alias="LOG_LEVEL")
    log_format: Literal["json", "console"] = Field("json", alias="LOG_FORMAT")
    db_pool_max: int = Field(10, alias="DB_POOL_MAX", ge=1)
    # how long a caller waits for a PostgreSQL connection before failing (PostgreSQL down)
    db_pool_timeout_seconds: float = Field(10, alias="DB_POOL_TIMEOUT_SECONDS", gt=0,
                                           allow_inf_nan=False)
    metrics_port: int = Field(0, alias="METRICS_PORT", ge=0, le=65535)
    # The HTTP API (`relay serve`, relay/api): see README "HTTP API".
    api_host: str = Field("127.0.0.1", alias="API_HOST", min_length=1)
    api_port: int = Field(8080, alias="API_PORT", ge=1, le=65535)
    api_workers: int = Field(2, alias="API_WORKERS", ge=1, le=64)
    api_max_body_bytes: int = Field(32 * 1024 * 1024, alias="API_MAX_BODY_BYTES", ge=1024)
    api_rate_limit_rps: float = Field(300, alias="API_RATE_LIMIT_RPS", ge=0)

    # The operations console (relay/console): the nav's link to Flower; unset: no link.
    flower_url: str | None = Field(None, alias="FLOWER_URL")

    # the stall watchdog (relay/watchdog.py), run by beat
    stall_alert_seconds: float = Field(300, alias="STALL_ALERT_SECONDS", gt=0,
                                       allow_inf_nan=False)
    stall_check_seconds: float = Field(30, alias="STALL_CHECK_SECONDS", gt=0,
                                       allow_inf_nan=False)
    # a notification whose every channel keeps failing transiently is retried this long
    notify_give_up_seconds: float = Field(86400, alias="NOTIFY_GIVE_UP_SECONDS", gt=0,
                                         allow_inf_nan=False)
    # personal data in finished rows is blanked this many days after they finished
    pii_retention_days: float = Field(30, alias="PII_RETENTION_DAYS", gt=0, le=3650,
                                      allow_inf_nan=False)

    # Brokers (issue 18): the Celery broker may differ from REDIS_URL, which keeps the
    # shared breaker and rate-limit state. Declared after redis_url: the master check
    # below reads both URLs (pydantic validates fields in declaration order).
    broker_url: str | None = Field(None, alias="BROKER_URL")
    redis_sentinel_master: str | None = Field(None, alias="REDIS_SENTINEL_MASTER",
                                              validate_default=True)

    # The email sync's retry and breaker knobs (sync_worker/policy.py reads them here).
    homeria_retry_base_seconds: float = Field(2, alias="HOMERIA_RETRY_BASE_SECONDS",
                                              ge=0.01, allow_inf_nan=False)
    homeria_retry_max_seconds: float = Field(600, alias="HOMERIA_RETRY_MAX_SECONDS",
                                             ge=0.01, allow_inf_nan=False)
    homeria_retry_give_up_seconds: float = Field(86400, alias="HOMERIA_RETRY_GIVE_UP_SECONDS",
                                                 ge=1, allow_inf_nan=False)
    homeria_breaker_threshold: int = Field(5, alias="HOMERIA_BREAKER_THRESHOLD", ge=1)
    homeria_breaker_cooldown_seconds: float = Field(
        30, alias="HOMERIA_BREAKER_COOLDOWN_SECONDS", ge=0.1, allow_inf_nan=False)
    # How long resolved dead letters are kept (relay/deadletters/resolve.py).
    dead_letter_retention_days: float = Field(30, alias="DEAD_LETTER_RETENTION_DAYS", gt=0,
                                              allow_inf_nan=False)
    # Read by requests (the Homeria client resolves them once) and prometheus_client: a
    # path that is not there would fail every request, or the exporter, much later.
    requests_ca_bundle: str | None = Field(None, alias="REQUESTS_CA_BUNDLE")
    curl_ca_bundle: str | None = Field(None, alias="CURL_CA_BUNDLE")
    prometheus_multiproc_dir: str | None = Field(None, alias="PROMETHEUS_MULTIPROC_DIR")
    # Campaign sends (notifications/campaigns/): sender threads per promotions worker
    # process (each keeps one SMTP connection open), and a rate limit per provider.
    promo_send_concurrency: int = Field(32, alias="PROMO_SEND_CONCURRENCY", ge=1, le=256)
    promo_provider_max_rps: float = Field(2000, alias="PROMO_PROVIDER_MAX_RPS", ge=0,
                                          allow_inf_nan=False)

    @field_validator("database_url")
    @classmethod
    def _pg_url(cls, v: str) -> str:
        if urlsplit(v).scheme not in {"postgresql", "postgres"}:
            raise ValueError("must be a postgresql:// URL")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, v: str) -> str:
        if urlsplit(v).scheme not in {"redis", "rediss", "unix", "sentinel"}:
            raise ValueError("must be a redis:// or sentinel:// URL")
        if urlsplit(v).scheme == "sentinel":
            parse_sentinel_url(v)
        return v

    @field_validator("broker_url", mode="before")
    @classmethod
    def _broker_blank(cls, v):
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        scheme = urlsplit(v).scheme
        if scheme not in BROKER_SCHEMES:
            raise ValueError("must be a redis://, sentinel://…;sentinel://… or amqp:// URL")
        if scheme == "sentinel":
            parse_sentinel_url(v)
        elif not urlsplit(v).hostname and scheme != "unix":
            raise ValueError("names no host")
        return v

    @field_validator("redis_sentinel_master")
    @classmethod
    def _sentinel_master(cls, v: str | None, info) -> str | None:
        v = v.strip() if isinstance(v, str) else v
        urls = [info.data.get("redis_url"), info.data.get("broker_url")]
        if not v and any(u and urlsplit(u).scheme == "sentinel" for u in urls):
            raise ValueError("must name the Sentinel master when REDIS_URL or BROKER_URL"
                             " is a sentinel:// URL")
        return v or None

    @field_validator("homeria_base_url")
    @classmethod
    def _homeria_url(cls, v: str) -> str:
        return require_secure_url(v, "HOMERIA_BASE_URL")

    @field_validator("sms_api_url")
    @classmethod
    def _sms_url(cls, v: str) -> str:
        return require_secure_url(v, "SMS_API_URL")

    @field_validator("push_api_url")
    @classmethod
    def _push_url(cls, v: str) -> str:
        return require_secure_url(v, "PUSH_API_URL")

    @field_validator("oncall_webhook_url", "sentry_dsn", "flower_basic_auth", mode="before")
    @classmethod
    def _blank_is_unset(cls, v):
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("oncall_webhook_url")
    @classmethod
    def _webhook_url(cls, v: str | None) -> str | None:
        return None if v is None else require_secure_url(v, "ONCALL_WEBHOOK_URL")

    @field_validator("flower_url", mode="before")
    @classmethod
    def _flower_url(cls, v):
        if isinstance(v, str) and not v.strip():
            return None
        if v is not None and urlsplit(v).scheme not in {"http", "https"}:
            raise ValueError("must be an http:// or https:// URL")
        return v

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, v: str) -> str:
        SmtpTarget(v)
        return v

    @field_validator("flower_basic_auth")
    @classmethod
    def _basic_auth(cls, v: str | None) -> str | None:
        if v is not None and (":" not in v or v.startswith(":") or v.endswith(":")):
            raise ValueError("must be user:password")
        return v

    @field_validator("brands", mode="before")
    @classmethod
    def _brands(cls, v):
        if isinstance(v, str):
            v = [b.strip() for b in v.split(",")]
        brands = tuple(b.lower() for b in v if b)
        if not brands:
            raise ValueError("must list at least one brand code")
        return brands

    @field_validator("homeria_retry_base_seconds", "homeria_retry_max_seconds",
                     "homeria_retry_give_up_seconds", "homeria_breaker_threshold",
                     "homeria_breaker_cooldown_seconds", "dead_letter_retention_days",
                     mode="before")
    @classmethod
    def _blank_is_default(cls, v):
        """A blank tunable (`VAR=` in a compose file) means its default, as it always has."""
        if isinstance(v, str) and not v.strip():
            raise PydanticUseDefault()
        return v

    @field_validator("requests_ca_bundle", "curl_ca_bundle", "prometheus_multiproc_dir",
                     mode="before")
    @classmethod
    def _existing_path(cls, v, info):
        if isinstance(v, str) and not v.strip():
            return None
        if v is not None:
            want_dir = info.field_name == "prometheus_multiproc_dir"
            found = os.path.isdir(v) if want_dir else os.path.exists(v)
            if not found:
                raise ValueError(f"{'directory' if want_dir else 'file'} {v!r} does not exist")
        return v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return v

    @property
    def smtp(self) -> SmtpTarget:
        return SmtpTarget(self.smtp_url)

    @property
    def broker(self) -> str:
        """The Celery broker: BROKER_URL, else REDIS_URL."""
        return self.broker_url or self.redis_url

    @property
    def broker_kind(self) -> Literal["redis", "sentinel", "amqp"]:
        return broker_kind(self.broker)


BROKER_SCHEMES = {"redis", "rediss", "unix", "sentinel", "amqp", "amqps", "pyamqp"}


def broker_kind(url: str) -> Literal["redis", "sentinel", "amqp"]:
    scheme = urlsplit(url).scheme
    if scheme == "sentinel":
        return "sentinel"
    return "amqp" if scheme in {"amqp", "amqps", "pyamqp"} else "redis"


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str | None, int]:
    """`sentinel://[:pw@]h1:26379[/db];sentinel://h2:26379` (kombu's form) → the Sentinel
    addresses, the Redis password and the database (default 0). kombu reads the password
    and database from the first part only, so relay does too and refuses them elsewhere:
    the outbox's own publish must write to the database the workers read."""
    hosts: list[tuple[str, int]] = []
    password, db = None, 0
    for i, part in enumerate(p.strip() for p in url.split(";")):
        parts = urlsplit(part)
        if parts.scheme != "sentinel" or not parts.hostname:
            raise ValueError(f"every part must be sentinel://host:port, got {part!r}")
        try:
            hosts.append((parts.hostname, parts.port or 26379))
        except ValueError:
            raise ValueError(f"bad port in {part!r}") from None
        path = parts.path.strip("/")
        if i and (path or parts.password):
            raise ValueError("put the password and database on the first sentinel:// part"
                             " only (that is where Celery's transport reads them)")
        if path and not path.isdigit():
            raise ValueError(f"database must be a number, got {parts.path!r}")
        if not i:
            password = unquote(parts.password) if parts.password else None
            db = int(path) if path else 0
    return hosts, password, db


_ALIASES = {name: (f.alias or name.upper()) for name, f in Settings.model_fields.items()}


def load_settings(**overrides) -> Settings:
    """Read and validate the environment; raise ConfigurationError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err.get("loc") or ("?",)
        var = _ALIASES.get(str(loc[0]), str(loc[0]))
        if err.get("type") == "missing":
            raise ConfigurationError(f"{var} is not set (see README: Configuration)") from None
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        raise ConfigurationError(f"{var} is invalid: {msg}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings_cache() -> None:
    """For tests that change the environment."""
    get_settings.cache_clear()
