"""Notification tunables as the values the notification modules use.

Every knob is a field of the settings registry (`relay/settings/notify.py`: NOTIFY_*;
`relay/settings/promo.py`: PROMO_*; `relay/settings/sla.py`: NOTIFICATION_SLA_SECONDS),
validated when a process starts: a malformed value stops it with one line naming the
variable, exit 2. Each function reads the cached settings at call time, so a test that
reloads them (`reset_settings_cache`) sees its values at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from relay.settings import get_settings


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    budget_s: float
    base_s: float
    max_s: float


def retry_policy() -> RetryPolicy:
    s = get_settings()
    return RetryPolicy(
        max_attempts=s.notify_channel_max_attempts,
        budget_s=s.notify_channel_budget_seconds,
        base_s=s.notify_retry_base_seconds,
        max_s=s.notify_retry_max_seconds,
    )


def give_up_seconds() -> float:
    return get_settings().notify_give_up_seconds


def claim_seconds() -> float:
    return get_settings().notify_claim_seconds


def promo_yield_seconds() -> float:
    return get_settings().promo_yield_max_seconds


def promo_yield_lag_ms() -> int:
    return get_settings().promo_yield_lag_ms


def sla_seconds() -> int:
    return get_settings().notification_sla_seconds


def unsubscribe_url() -> str:
    return get_settings().promo_unsubscribe_url


def unsubscribe_secret() -> bytes:
    return get_settings().promo_unsubscribe_secret.encode()


# -- quiet hours ------------------------------------------------------------------------
def quiet_hours() -> tuple[int, int] | None:
    """(start_hour, end_hour) local time, or None when off. "21-8" wraps midnight."""
    return get_settings().quiet_hours


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


_quiet_cache: tuple[float, datetime | None, list[str]] = (0.0, None, [])


def quiet_countries(now: datetime) -> list[str]:
    """Every country (ISO 3166 alpha-2) where it is quiet hours at `now`, recomputed at
    most once a minute per process (the batch claim excludes their rows in SQL; the
    single-message path then parks them with the exact wait)."""
    global _quiet_cache
    checked, _, countries = _quiet_cache
    if time.monotonic() - checked < 60 and countries is not None:
        return countries
    import pycountry

    window = quiet_hours()
    countries = [] if window is None else [
        c.alpha_2 for c in pycountry.countries if quiet_wait_seconds(c.alpha_2, now, window)]
    _quiet_cache = (time.monotonic(), now, countries)
    return countries


def provider_max_rps() -> float:
    """PROMO_PROVIDER_MAX_RPS: campaign sends per second per provider, all workers; 0 off."""
    return get_settings().promo_provider_max_rps
