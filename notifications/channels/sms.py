"""SMS through a Twilio-shaped Messages API.

`POST {api_url}/2010-04-01/Accounts/{sid}/Messages.json`, form fields `To`, `From`,
`Body`, basic auth (sid, token). 201 + JSON `sid` means accepted. Errors carry Twilio's
numeric `code`; `classify_sms_response` is the one place that maps them to outcomes.
"""

from __future__ import annotations

from typing import Any

import requests

from notifications.channels.base import (
    DEFAULT_TIMEOUT,
    ChannelConfigError,
    ChannelError,
    PermanentChannelError,
    TransientChannelError,
    http_transport_error,
    json_or_none,
    parse_retry_after,
    shared_session,
)
from notifications.payloads import Accepted, SmsMessage
from relay.logs import get_logger, mask_phone
from relay.settings import require_secure_url

log = get_logger(__name__)
CHANNEL = "sms"

# Twilio error codes that say "this recipient will never get this message".
RECIPIENT_CODES = {
    21211: "invalid_to",            # invalid 'To' phone number
    21217: "invalid_to",            # phone number does not appear to be valid
    21408: "region_not_enabled",    # permission to send to this region not enabled
    21610: "unsubscribed",          # recipient replied STOP
    21612: "unroutable_to",         # cannot route to this number
    21614: "not_mobile",            # 'To' is not a mobile number
}
# Codes that say our account or sender is wrong: fix configuration, keep the message.
CONFIG_CODES = {
    20003: "auth_failed",
    20404: "account_not_found",
    21212: "invalid_from",
    21606: "from_not_sms_capable",
    21659: "from_not_owned",
    21660: "from_not_owned",
}


def classify_sms_response(response: requests.Response) -> Accepted | ChannelError:
    """Twilio status + error code → Accepted or the error to raise. One table, here."""
    status = response.status_code
    doc = json_or_none(response) or {}
    if 200 <= status < 300:
        return Accepted(channel=CHANNEL, provider_message_id=str(doc.get("sid") or ""),
                        status=status)
    code = doc.get("code") if isinstance(doc.get("code"), int) else None
    detail = f"twilio code {code}" if code else ""
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status in (401, 403) or code in CONFIG_CODES:
        reason = CONFIG_CODES.get(code, "auth_failed") if code else "auth_failed"
        return ChannelConfigError(CHANNEL, reason, detail, status=status)
    if status == 429 or status >= 500:
        return TransientChannelError(CHANNEL, "rate_limited" if status == 429 else "provider_error",
                                     detail, status=status, retry_after=retry_after)
    if code in RECIPIENT_CODES:
        return PermanentChannelError(CHANNEL, RECIPIENT_CODES[code], detail, status=status)
    if status == 404 or 300 <= status < 400:
        # Wrong URL/account, or a redirect we refuse to follow: our configuration.
        return ChannelConfigError(CHANNEL, f"http_{status}", detail, status=status)
    # Other 4xx: the request itself is bad (empty or overlong body...); a retry won't help.
    reason = f"twilio_{code}" if code else f"http_{status}"
    return PermanentChannelError(CHANNEL, reason, detail, status=status)


class SmsChannel:
    name = CHANNEL

    def __init__(self, api_url: str, account_sid: str, auth_token: str, from_number: str, *,
                 session: requests.Session | None = None,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        base = require_secure_url(api_url, "SMS_API_URL")
        self.url = f"{base}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._auth = (account_sid, auth_token)
        self.from_number = from_number
        self.session = session or shared_session()
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> SmsChannel:
        overrides.setdefault("timeout", settings.provider_timeout)
        return cls(settings.sms_api_url, settings.sms_account_sid, settings.sms_auth_token,
                   settings.sms_from, **overrides)

    def send(self, message: SmsMessage) -> Accepted:
        form = {"To": message.to, "From": self.from_number, "Body": message.body}
        try:
            response = self.session.post(self.url, data=form, auth=self._auth,
                                         timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            error = http_transport_error(CHANNEL, exc)
            self._log_failure(message, error)
            raise error from None
        outcome = classify_sms_response(response)
        if isinstance(outcome, ChannelError):
            self._log_failure(message, outcome)
            raise outcome
        log.info("sms.accepted", notification_id=message.notification_id,
                 to=mask_phone(message.to), provider_message_id=outcome.provider_message_id)
        return outcome

    def close(self) -> None:
        """The session is shared per process; nothing of our own to release."""

    @staticmethod
    def _log_failure(message: SmsMessage, error: ChannelError) -> None:
        log.warning("sms.failed", notification_id=message.notification_id,
                    to=mask_phone(message.to), reason=error.reason, status=error.status,
                    transient=error.transient, alert=error.alert)
