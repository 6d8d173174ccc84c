"""Push through an FCM HTTP v1-shaped API.

`POST {api_url}/v1/projects/{project}/messages:send` with `Authorization: Bearer <token>`
and `{"message": {"token", "notification": {"title", "body"}, "data"}}`; 200 with
`{"name": "projects/…/messages/…"}` means accepted. FCM errors are
`{"error": {"code", "status", "details": [{"errorCode": …}, {"fieldViolations": …}]}}`;
`classify_push_response` is the one place that maps them to outcomes.
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
from notifications.payloads import Accepted, PushMessage
from relay.logs import get_logger
from relay.settings import require_secure_url

log = get_logger(__name__)
CHANNEL = "push"


def fcm_error(doc: dict | None) -> tuple[str | None, str | None, bool]:
    """(status, errorCode, token_is_the_bad_field) from an FCM error body."""
    error = (doc or {}).get("error")
    if not isinstance(error, dict):
        return None, None, False
    status = error.get("status") if isinstance(error.get("status"), str) else None
    code, on_token = None, False
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        code = detail.get("errorCode", code)
        for violation in detail.get("fieldViolations") or []:
            if isinstance(violation, dict) and violation.get("field") == "message.token":
                on_token = True
    message = str(error.get("message", "")).lower()
    on_token = on_token or "registration token" in message
    return status, code or status, on_token


def classify_push_response(response: requests.Response) -> Accepted | ChannelError:
    """FCM status + errorCode → Accepted or the error to raise. One table, here."""
    status = response.status_code
    doc = json_or_none(response)
    if 200 <= status < 300:
        name = str((doc or {}).get("name") or "")
        return Accepted(channel=CHANNEL, provider_message_id=name, status=status)
    _, code, on_token = fcm_error(doc)
    detail = f"fcm {code}" if code else ""
    if code == "UNREGISTERED" or (code == "INVALID_ARGUMENT" and on_token):
        return PermanentChannelError(CHANNEL, "token_unregistered" if code == "UNREGISTERED"
                                     else "token_invalid", detail, status=status,
                                     drop_token=True)
    if code == "SENDER_ID_MISMATCH":  # the token belongs to another app: as good as dead
        return PermanentChannelError(CHANNEL, "token_sender_mismatch", detail, status=status,
                                     drop_token=True)
    if status in (401, 403) or code in ("THIRD_PARTY_AUTH_ERROR", "PERMISSION_DENIED"):
        return ChannelConfigError(CHANNEL, "auth_failed", detail, status=status)
    if status == 429 or status >= 500:
        reason = "rate_limited" if status == 429 else "provider_error"
        return TransientChannelError(CHANNEL, reason, detail, status=status,
                                     retry_after=parse_retry_after(
                                         response.headers.get("Retry-After")))
    if status == 404 or 300 <= status < 400:
        # 404 without UNREGISTERED: wrong project or URL. A redirect we refuse to follow.
        return ChannelConfigError(CHANNEL, f"http_{status}", detail, status=status)
    # Other 4xx (INVALID_ARGUMENT on the payload...): our message is bad; retrying won't help.
    return PermanentChannelError(CHANNEL, (code or f"http_{status}").lower(), detail,
                                 status=status)


class PushChannel:
    name = CHANNEL

    def __init__(self, api_url: str, project_id: str, api_token: str, *,
                 session: requests.Session | None = None,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        base = require_secure_url(api_url, "PUSH_API_URL")
        self.url = f"{base}/v1/projects/{project_id}/messages:send"
        self._headers = {"Authorization": f"Bearer {api_token}"}
        self.session = session or shared_session()
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> PushChannel:
        overrides.setdefault("timeout", settings.provider_timeout)
        return cls(settings.push_api_url, settings.push_project_id, settings.push_api_token,
                   **overrides)

    def send(self, message: PushMessage) -> Accepted:
        body = {"message": {
            "token": message.token,
            "notification": {"title": message.title, "body": message.body},
            "data": {**message.data, "notification_id": message.notification_id},
        }}
        try:
            response = self.session.post(self.url, json=body, headers=self._headers,
                                         timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            error = http_transport_error(CHANNEL, exc)
            self._log_failure(message, error)
            raise error from None
        outcome = classify_push_response(response)
        if isinstance(outcome, ChannelError):
            self._log_failure(message, outcome)
            raise outcome
        log.info("push.accepted", notification_id=message.notification_id,
                 provider_message_id=outcome.provider_message_id)
        return outcome

    def close(self) -> None:
        """The session is shared per process; nothing of our own to release."""

    @staticmethod
    def _log_failure(message: PushMessage, error: ChannelError) -> None:
        # Never log the device token: it addresses one person's phone.
        log.warning("push.failed", notification_id=message.notification_id,
                    reason=error.reason, status=error.status, transient=error.transient,
                    alert=error.alert, drop_token=error.drop_token)
