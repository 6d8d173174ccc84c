"""relay's configuration: one registry of every environment variable relay reads.

Each feature group is a pydantic-settings class in its own module (runtime, telemetry,
sync, notify, promo, sla, oncall, retention, api); `Settings` inherits them all, so one
validation covers every variable, and each field keeps its flat name (the variable's name
in lower case). `settings.sync`, `settings.notify`, ... give one group's fields alone.

`get_settings()` loads them on first use and caches the result; a missing or malformed
variable raises `ConfigurationError` with one line naming it, which the CLI, the Celery
entry points (celeryconfig) and `relay serve` print without a traceback, exit 2. Nothing
else in relay reads os.environ for its configuration; the README's "Configuration" tables
are checked against `variables()` by tests/unit/relay/test_readme_configuration.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_core import PydanticUndefined

from relay.errors import ConfigurationError
from relay.settings.api import ApiSettings
from relay.settings.group import Group
from relay.settings.notify import NotifySettings
from relay.settings.oncall import OncallSettings
from relay.settings.promo import PromoSettings
from relay.settings.retention import RetentionSettings
from relay.settings.runtime import RuntimeSettings
from relay.settings.sla import SlaSettings
from relay.settings.sync import SyncSettings
from relay.settings.telemetry import TelemetrySettings
from relay.settings.urls import (
    BROKER_SCHEMES,
    LOOPBACK_NAMES,
    SmtpTarget,
    broker_kind,
    is_loopback_host,
    parse_sentinel_url,
    require_secure_url,
)

__all__ = [
    "BROKER_SCHEMES", "GROUPS", "LOOPBACK_NAMES", "Settings", "SmtpTarget", "Variable",
    "broker_kind", "get_settings", "is_loopback_host", "load_settings", "parse_sentinel_url",
    "require_secure_url", "reset_settings_cache", "variables",
]

G = TypeVar("G", bound=Group)

# The groups, in the order their variables are validated (and listed by `variables()`).
GROUPS: dict[str, type[Group]] = {
    "runtime": RuntimeSettings, "telemetry": TelemetrySettings, "sync": SyncSettings,
    "notify": NotifySettings, "promo": PromoSettings, "sla": SlaSettings,
    "oncall": OncallSettings, "retention": RetentionSettings, "api": ApiSettings,
}


class Settings(ApiSettings, RetentionSettings, OncallSettings, SlaSettings, PromoSettings,
               NotifySettings, SyncSettings, TelemetrySettings, RuntimeSettings):
    """Every group at once (pydantic lists inherited fields base-most first, so the
    runtime's variables are validated, and reported, first)."""

    def group(self, cls: type[G]) -> G:
        """One group's fields alone, e.g. to hand an adapter only what it needs."""
        return cls.model_construct(**{name: getattr(self, name) for name in cls.model_fields})

    @property
    def runtime(self) -> RuntimeSettings:
        return self.group(RuntimeSettings)

    @property
    def telemetry(self) -> TelemetrySettings:
        return self.group(TelemetrySettings)

    @property
    def sync(self) -> SyncSettings:
        return self.group(SyncSettings)

    @property
    def notify(self) -> NotifySettings:
        return self.group(NotifySettings)

    @property
    def promo(self) -> PromoSettings:
        return self.group(PromoSettings)

    @property
    def sla(self) -> SlaSettings:
        return self.group(SlaSettings)

    @property
    def oncall(self) -> OncallSettings:
        return self.group(OncallSettings)

    @property
    def retention(self) -> RetentionSettings:
        return self.group(RetentionSettings)

    @property
    def api(self) -> ApiSettings:
        return self.group(ApiSettings)


@dataclass(frozen=True)
class Variable:
    """One entry of the registry, as the README's tables document it."""

    name: str
    group: str
    default: Any          # PydanticUndefined when the variable is required
    description: str

    @property
    def required(self) -> bool:
        return self.default is PydanticUndefined


def variables() -> list[Variable]:
    """Every variable relay reads, group by group."""
    return [Variable(f.alias or name.upper(), group, f.default, f.description or "")
            for group, cls in GROUPS.items() for name, f in cls.model_fields.items()]


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
