"""The shared runtime: PostgreSQL, Redis and the broker, the outbox, the brands."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from relay.settings.group import BLANK_UNSET, Group, seconds, setting
from relay.settings.urls import BROKER_SCHEMES, broker_kind, parse_sentinel_url


class RuntimeSettings(Group):
    database_url: str = Field(alias="DATABASE_URL",
                              description="PostgreSQL, the source of truth")
    redis_url: str = Field(alias="REDIS_URL", description=(
        "the shared breaker and rate-limit state, and the Celery broker unless BROKER_URL"
        " is set"))
    # Declared after redis_url: the master check below reads both URLs (pydantic
    # validates fields in declaration order).
    broker_url: str | None = setting(None, "BROKER_URL", "the Celery broker",
                                     blank=BLANK_UNSET)
    redis_sentinel_master: str | None = setting(
        None, "REDIS_SENTINEL_MASTER", "the master's name the Sentinels know",
        validate_default=True)

    db_pool_max: int = setting(10, "DB_POOL_MAX", "connections per process in the pool",
                               ge=1)
    # A connection opened on demand costs a request ~5-15 ms (a backend fork and the
    # session set-up): `relay serve` keeps DB_POOL_MAX open unless told otherwise
    db_pool_min: int = setting(1, "DB_POOL_MIN", "connections per process kept open"
                               " (at most DB_POOL_MAX)", ge=1)
    db_pool_timeout_seconds: float = seconds(
        10, "DB_POOL_TIMEOUT_SECONDS",
        "longest a caller waits for a PostgreSQL connection (PostgreSQL down)")
    outbox_sweep_seconds: float = setting(
        10, "OUTBOX_SWEEP_SECONDS",
        "how often the beat sweep looks for committed-but-unfinished rows", gt=0)
    outbox_lease_seconds: int = setting(
        60, "OUTBOX_LEASE_SECONDS", "how long a published row may stay unfinished before"
        " the sweep publishes it again; also the task hard time limit", gt=0)
    brands: Annotated[tuple[str, ...], NoDecode] = setting(
        ("acme", "globex"), "BRANDS", "brand codes producers accept, comma-separated")

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

    @field_validator("brands", mode="before")
    @classmethod
    def _brands(cls, v):
        if isinstance(v, str):
            v = [b.strip() for b in v.split(",")]
        brands = tuple(b.lower() for b in v if b)
        if not brands:
            raise ValueError("must list at least one brand code")
        return brands

    @property
    def broker(self) -> str:
        """The Celery broker: BROKER_URL, else REDIS_URL."""
        return self.broker_url or self.redis_url

    @property
    def broker_kind(self) -> Literal["redis", "sentinel", "amqp"]:
        return broker_kind(self.broker)
