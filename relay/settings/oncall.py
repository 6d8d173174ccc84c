"""What pages on-call: the alert webhook, its rate limit, the stall watchdog."""

from __future__ import annotations

from pydantic import field_validator

from relay.settings.group import BLANK_DEFAULT, BLANK_UNSET, Group, seconds, setting
from relay.settings.urls import require_secure_url


class OncallSettings(Group):
    oncall_webhook_url: str | None = setting(
        None, "ONCALL_WEBHOOK_URL", "Slack-compatible webhook for alerts", blank=BLANK_UNSET)
    # relay/alerts.py: a malformed value is refused, never replaced by the default: an
    # operator who set it meant something.
    oncall_alert_window_seconds: float = seconds(
        60, "ONCALL_ALERT_WINDOW_SECONDS", "at most one webhook post per alert key per"
        " window; the rest become one summary", blank=BLANK_DEFAULT)
    # Was a constant in code (the beat schedule in celeryconfig.py).
    oncall_alert_flush_seconds: float = seconds(
        15, "ONCALL_ALERT_FLUSH_SECONDS", "how often beat sends the summaries of closed"
        " alert windows", ge=1, le=3600, blank=BLANK_DEFAULT)
    # the stall watchdog (relay/watchdog.py), run by beat
    stall_alert_seconds: float = seconds(
        300, "STALL_ALERT_SECONDS", "a queue with no live consumer, or whose oldest due"
        " work has waited, this long is a stall")
    stall_check_seconds: float = seconds(30, "STALL_CHECK_SECONDS",
                                         "how often beat's stall watchdog looks")

    @field_validator("oncall_webhook_url")
    @classmethod
    def _webhook_url(cls, v: str | None) -> str | None:
        return None if v is None else require_secure_url(v, "ONCALL_WEBHOOK_URL")
