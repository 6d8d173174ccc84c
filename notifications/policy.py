"""Notification tunables: the one place that reads notification-only environment variables.

relay.settings owns the contract's variables (NOTIFICATION_SLA_SECONDS, senders, brands);
the knobs below are ours. Each is read from relay.settings when it grows a field of that
name, else from the environment, else a default — read at call time, so tests and the
benchmark can change them per process.

| variable | meaning | default |
|---|---|---|
| NOTIFY_CHANNEL_MAX_ATTEMPTS | transient failures one channel may take before fallback | 3 |
| NOTIFY_CHANNEL_BUDGET_SECONDS | time one channel may spend retrying before fallback | 600 |
| NOTIFY_RETRY_BASE_SECONDS | first retry delay (doubles per attempt, jittered) | 5 |
| NOTIFY_RETRY_MAX_SECONDS | cap of one retry delay | 300 |
| NOTIFY_GIVE_UP_SECONDS | age that ends waiting out an outage of every channel | 86400 |
| NOTIFY_CLAIM_SECONDS | how long a worker owns a row it is sending | 45 |
| PROMO_YIELD_MAX_SECONDS | longest a promotion waits for queued order updates | 3 |
| PROMO_QUIET_HOURS | local hours with no promotions, "21-8"; "off" disables | 21-8 |
| PROMO_UNSUBSCRIBE_URL | unsubscribe endpoint, https | https://shop.example/unsubscribe |
| PROMO_UNSUBSCRIBE_SECRET | HMAC key of the unsubscribe token | dev value |
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from relay.errors import ConfigurationError

_DEFAULTS = {
    "NOTIFY_CHANNEL_MAX_ATTEMPTS": "3",
    "NOTIFY_CHANNEL_BUDGET_SECONDS": "600",
    "NOTIFY_RETRY_BASE_SECONDS": "5",
    "NOTIFY_RETRY_MAX_SECONDS": "300",
    "NOTIFY_CLAIM_SECONDS": "45",
    "PROMO_YIELD_MAX_SECONDS": "3",
    "PROMO_QUIET_HOURS": "21-8",
    "PROMO_UNSUBSCRIBE_URL": "https://shop.example/unsubscribe",
    "PROMO_UNSUBSCRIBE_SECRET": "dev-unsubscribe-secret",
}


def _raw(name: str) -> str:
    try:
        from relay.settings import get_settings

        value = getattr(get_settings(), name.lower(), None)
        if value is not None:
            return str(value)
    except ConfigurationError:
        pass
    return os.environ.get(name, "").strip() or _DEFAULTS[name]


def _number(name: str, cast=float):
    return positive_number(name, _raw(name), cast)


def positive_number(name: str, raw: str, cast=float):
    """`raw` (the value of variable `name`) as a number > 0, or ConfigurationError naming
    the variable. Shared by the notification and SLA tunables."""
    try:
        value = cast(raw)
    except ValueError:
        raise ConfigurationError(f"{name} is invalid: not a number: {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigurationError(f"{name} is invalid: must be a finite number")
    if value <= 0:
        raise ConfigurationError(f"{name} is invalid: must be > 0")
    return value


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    budget_s: float
    base_s: float
    max_s: float


def retry_policy() -> RetryPolicy:
    return RetryPolicy(
        max_attempts=_number("NOTIFY_CHANNEL_MAX_ATTEMPTS", int),
        budget_s=_number("NOTIFY_CHANNEL_BUDGET_SECONDS"),
        base_s=_number("NOTIFY_RETRY_BASE_SECONDS"),
        max_s=_number("NOTIFY_RETRY_MAX_SECONDS"),
    )


def give_up_seconds() -> float:
    """NOTIFY_GIVE_UP_SECONDS: a settings field (validated with the others at start-up)."""
    from relay.settings import get_settings

    return float(get_settings().notify_give_up_seconds)


def claim_seconds() -> float:
    return _number("NOTIFY_CLAIM_SECONDS")


def promo_yield_seconds() -> float:
    return _number("PROMO_YIELD_MAX_SECONDS")


def sla_seconds() -> int:
    from relay.settings import get_settings

    return get_settings().notification_sla_seconds


def unsubscribe_url() -> str:
    url = _raw("PROMO_UNSUBSCRIBE_URL")
    if not url.startswith("https://"):
        raise ConfigurationError("PROMO_UNSUBSCRIBE_URL is invalid: must be https (RFC 8058)")
    return url


def unsubscribe_secret() -> bytes:
    return _raw("PROMO_UNSUBSCRIBE_SECRET").encode()


# -- quiet hours ------------------------------------------------------------------------
def quiet_hours() -> tuple[int, int] | None:
    """(start_hour, end_hour) local time, or None when off. "21-8" wraps midnight."""
    raw = _raw("PROMO_QUIET_HOURS").lower()
    if raw in {"off", "none", "0", "-"}:
        return None
    try:
        start, end = (int(part) for part in raw.split("-"))
    except ValueError:
        raise ConfigurationError("PROMO_QUIET_HOURS is invalid: use like 21-8, or off") from None
    if not (0 <= start <= 24 and 0 <= end <= 24) or start == end:
        raise ConfigurationError("PROMO_QUIET_HOURS is invalid: hours 0-24, start != end")
    return start, end


_FALLBACK_ZONES = {"ES": "Europe/Madrid", "PT": "Europe/Lisbon", "FR": "Europe/Paris",
                   "DE": "Europe/Berlin", "IT": "Europe/Rome", "GB": "Europe/London",
                   "US": "America/New_York", "MX": "America/Mexico_City"}


@lru_cache(maxsize=1)
def _zone_table() -> dict[str, str]:
    """Country → its first (most populous) IANA zone, from the system's zone.tab."""
    table = dict(_FALLBACK_ZONES)
    path = Path("/usr/share/zoneinfo/zone.tab")
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("#") or not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) >= 3:
                table.setdefault(parts[0], parts[2])
    return table


def country_zone(country: str) -> ZoneInfo:
    try:
        return ZoneInfo(_zone_table().get(country.upper(), "UTC"))
    except ZoneInfoNotFoundError:
        return ZoneInfo("UTC")


def quiet_wait_seconds(country: str, now: datetime,
                       window: tuple[int, int] | None = None) -> float:
    """Seconds until the quiet window ends in the country's local time; 0 outside it."""
    window = quiet_hours() if window is None else window
    if window is None:
        return 0.0
    start, end = window
    local = now.astimezone(country_zone(country))
    hour = local.hour + local.minute / 60 + local.second / 3600
    inside = (start <= hour < end) if start < end else (hour >= start or hour < end)
    if not inside:
        return 0.0
    end_local = local.replace(hour=end % 24, minute=0, second=0, microsecond=0)
    if end == 24 or end_local <= local:
        end_local += timedelta(days=1)
    # wall-clock arithmetic in the zone, then compare in UTC (DST-safe enough for a park)
    return max(1.0, (end_local - local).total_seconds())
