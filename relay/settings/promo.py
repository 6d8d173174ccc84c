"""Promotions and campaigns: their sender, quiet hours, unsubscribe link and pace."""

from __future__ import annotations

from pydantic import field_validator

from relay.settings.group import BLANK_DEFAULT, Group, seconds, setting

QUIET_OFF = frozenset({"off", "none", "0", "-"})


def parse_quiet_hours(raw: str) -> tuple[int, int] | None:
    """"21-8" → (21, 8), local hours, wrapping midnight; "off" → None."""
    raw = raw.strip().lower()
    if raw in QUIET_OFF:
        return None
    try:
        start, end = (int(part) for part in raw.split("-"))
    except ValueError:
        raise ValueError("use like 21-8, or off") from None
    if not (0 <= start <= 24 and 0 <= end <= 24) or start == end:
        raise ValueError("hours 0-24, start != end")
    return start, end


class PromoSettings(Group):
    promo_email_from: str = setting("Relay Shop Offers <offers@shop.example>",
                                    "PROMO_EMAIL_FROM", "sender of promotions")
    promo_yield_max_seconds: float = seconds(
        3, "PROMO_YIELD_MAX_SECONDS", "longest a promotion waits while order updates are"
        " queued", blank=BLANK_DEFAULT)
    # Queued order updates are one sign promotions must yield; the other is order updates
    # picked up late, which a queue-depth check cannot see when workers prefetch them.
    promo_yield_lag_ms: int = setting(
        250, "PROMO_YIELD_LAG_MS", "promotions also wait while an order update waited"
        " longer than this to be picked up; 0 turns it off", ge=0, le=60_000)
    promo_quiet_hours: str = setting(
        "21-8", "PROMO_QUIET_HOURS", "local hours (by country) with no promotions; off"
        " disables", blank=BLANK_DEFAULT)
    promo_unsubscribe_url: str = setting(
        "https://shop.example/unsubscribe", "PROMO_UNSUBSCRIBE_URL",
        "RFC 8058 one-click unsubscribe endpoint (https)", blank=BLANK_DEFAULT)
    promo_unsubscribe_secret: str = setting(
        "dev-unsubscribe-secret", "PROMO_UNSUBSCRIBE_SECRET",
        "HMAC key of the unsubscribe token", blank=BLANK_DEFAULT)
    # Campaign sends (notifications/campaigns/): sender threads per promotions worker
    # process (each keeps one SMTP connection open), and a rate limit per provider.
    promo_send_concurrency: int = setting(
        32, "PROMO_SEND_CONCURRENCY", "sender threads per promotions worker process",
        ge=1, le=256)
    promo_provider_max_rps: float = setting(
        2000, "PROMO_PROVIDER_MAX_RPS", "campaign sends per second per provider, all"
        " workers together; 0 turns it off", ge=0, allow_inf_nan=False)

    # Recording a large audience is minutes of CPU (validation, COPY, planning) on the
    # same host as the workers: a 1,000,000 run at nice 0 took order updates' p99 to 8 s.
    campaign_intake_nice: int = setting(
        10, "CAMPAIGN_INTAKE_NICE", "CPU niceness of the processes recording a campaign's"
        " audience; 0 keeps the caller's", ge=0, le=19)

    @field_validator("promo_unsubscribe_url", "promo_unsubscribe_secret", mode="before")
    @classmethod
    def _strip(cls, v):
        return v.strip() if isinstance(v, str) else v

    @field_validator("promo_quiet_hours")
    @classmethod
    def _quiet_hours(cls, v: str) -> str:
        parse_quiet_hours(v)
        return v.strip().lower()

    @field_validator("promo_unsubscribe_url")
    @classmethod
    def _unsubscribe_url(cls, v: str) -> str:
        if not v.startswith("https://"):
            raise ValueError("must be https (RFC 8058)")
        return v

    @property
    def quiet_hours(self) -> tuple[int, int] | None:
        return parse_quiet_hours(self.promo_quiet_hours)
