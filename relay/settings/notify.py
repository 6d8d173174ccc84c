"""Order notifications: the channels' providers and how a notification retries and falls
back. `notifications/policy.py` turns these into the `RetryPolicy`."""

from __future__ import annotations

from pydantic import field_validator

from relay.settings.group import BLANK_DEFAULT, Group, seconds, setting
from relay.settings.urls import SmtpTarget, require_secure_url


class NotifySettings(Group):
    smtp_url: str = setting("smtp://127.0.0.1:8025", "SMTP_URL",
                            "smtp://user:pass@host:587?starttls=1 or smtps://host:465")
    email_from: str = setting("Relay Shop <orders@shop.example>", "EMAIL_FROM",
                              "sender of order mail")
    sms_api_url: str = setting("http://127.0.0.1:8092", "SMS_API_URL",
                               "Twilio-shaped Messages API")
    sms_account_sid: str = setting("ACdev0000000000000000000000000000", "SMS_ACCOUNT_SID",
                                   "SMS account (basic auth user)")
    sms_auth_token: str = setting("dev-sms-token", "SMS_AUTH_TOKEN",
                                  "SMS basic auth password")
    sms_from: str = setting("+15005550006", "SMS_FROM", "SMS sender number")
    push_api_url: str = setting("http://127.0.0.1:8093", "PUSH_API_URL",
                                "FCM HTTP v1-shaped push API")
    push_project_id: str = setting("relay-dev", "PUSH_PROJECT_ID", "push project")
    push_api_token: str = setting("dev-push-token", "PUSH_API_TOKEN", "push bearer token")

    notify_channel_max_attempts: int = setting(
        3, "NOTIFY_CHANNEL_MAX_ATTEMPTS", "transient failures one channel may take before"
        " falling back to the next", gt=0, blank=BLANK_DEFAULT)
    notify_channel_budget_seconds: float = seconds(
        600, "NOTIFY_CHANNEL_BUDGET_SECONDS", "time one channel may spend retrying before"
        " falling back", blank=BLANK_DEFAULT)
    notify_retry_base_seconds: float = seconds(
        5, "NOTIFY_RETRY_BASE_SECONDS", "first retry delay (doubles per attempt, jittered)",
        blank=BLANK_DEFAULT)
    notify_retry_max_seconds: float = seconds(
        300, "NOTIFY_RETRY_MAX_SECONDS", "cap of one retry delay", blank=BLANK_DEFAULT)
    notify_give_up_seconds: float = seconds(
        86400, "NOTIFY_GIVE_UP_SECONDS", "age that ends waiting out an outage of every"
        " channel: then dead letter max_age")
    notify_claim_seconds: float = seconds(
        45, "NOTIFY_CLAIM_SECONDS", "how long a worker owns a notification it is sending",
        blank=BLANK_DEFAULT)
    # Were constants in code (notifications/channels/base.py).
    notify_connect_timeout_seconds: float = seconds(
        3.05, "NOTIFY_CONNECT_TIMEOUT_SECONDS", "connect timeout toward the SMS and push"
        " providers", le=60, blank=BLANK_DEFAULT)
    notify_read_timeout_seconds: float = seconds(
        10, "NOTIFY_READ_TIMEOUT_SECONDS", "read timeout toward the SMS and push providers",
        le=300, blank=BLANK_DEFAULT)

    @field_validator("sms_api_url")
    @classmethod
    def _sms_url(cls, v: str) -> str:
        return require_secure_url(v, "SMS_API_URL")

    @field_validator("push_api_url")
    @classmethod
    def _push_url(cls, v: str) -> str:
        return require_secure_url(v, "PUSH_API_URL")

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, v: str) -> str:
        SmtpTarget(v)
        return v

    @property
    def smtp(self) -> SmtpTarget:
        return SmtpTarget(self.smtp_url)

    @property
    def provider_timeout(self) -> tuple[float, float]:
        """(connect, read) for the HTTP providers (SMS, push)."""
        return (self.notify_connect_timeout_seconds, self.notify_read_timeout_seconds)
