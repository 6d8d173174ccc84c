"""Each channel's status → outcome table, on hand-built responses (cases stand-ins skip)."""

from __future__ import annotations

import json

import pytest
import requests

from notifications.channels.base import (
    ChannelConfigError,
    PermanentChannelError,
    TransientChannelError,
)
from notifications.channels.mime import message_id_for
from notifications.channels.push import classify_push_response
from notifications.channels.sms import classify_sms_response
from notifications.channels.smtp import classify_smtp_reply
from notifications.payloads import Accepted


def response(status: int, body: object = None, headers: dict | None = None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = json.dumps(body).encode() if body is not None else b""
    r.headers.update(headers or {})
    return r


def twilio(status: int, code: int) -> requests.Response:
    return response(status, {"code": code, "message": "x", "status": status})


def fcm(status: int, grpc: str, code: str | None = None, field: str | None = None):
    details = [{"errorCode": code}] if code else []
    if field:
        details.append({"fieldViolations": [{"field": field, "description": "bad"}]})
    return response(status, {"error": {"code": status, "status": grpc, "message": "m",
                                       "details": details}})


@pytest.mark.parametrize(("resp", "kind", "reason"), [
    (response(201, {"sid": "SM1"}), Accepted, None),
    (twilio(400, 21211), PermanentChannelError, "invalid_to"),
    (twilio(400, 21610), PermanentChannelError, "unsubscribed"),
    (twilio(400, 21614), PermanentChannelError, "not_mobile"),
    (twilio(400, 21617), PermanentChannelError, "twilio_21617"),
    (twilio(400, 21212), ChannelConfigError, "invalid_from"),
    (twilio(401, 20003), ChannelConfigError, "auth_failed"),
    (response(403, None), ChannelConfigError, "auth_failed"),
    (twilio(404, 20404), ChannelConfigError, "account_not_found"),
    (response(302, None, {"Location": "https://elsewhere"}), ChannelConfigError, "http_302"),
    (twilio(429, 20429), TransientChannelError, "rate_limited"),
    (response(500, "<html>oops</html>"), TransientChannelError, "provider_error"),
    (response(503, None), TransientChannelError, "provider_error"),
])
def test_sms_outcomes(resp, kind, reason):
    outcome = classify_sms_response(resp)

    assert type(outcome) is kind
    if reason:
        assert outcome.reason == reason


@pytest.mark.parametrize(("resp", "kind", "reason", "drop"), [
    (response(200, {"name": "projects/p/messages/1"}), Accepted, None, False),
    (fcm(404, "NOT_FOUND", "UNREGISTERED"), PermanentChannelError, "token_unregistered", True),
    (fcm(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.token"),
     PermanentChannelError, "token_invalid", True),
    (fcm(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.data"),
     PermanentChannelError, "invalid_argument", False),
    (fcm(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"),
     PermanentChannelError, "token_sender_mismatch", True),
    (fcm(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"), ChannelConfigError, "auth_failed",
     False),
    (fcm(404, "NOT_FOUND"), ChannelConfigError, "http_404", False),
    (fcm(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), TransientChannelError, "rate_limited",
     False),
    (fcm(503, "UNAVAILABLE", "UNAVAILABLE"), TransientChannelError, "provider_error", False),
    (response(502, "bad gateway"), TransientChannelError, "provider_error", False),
])
def test_push_outcomes(resp, kind, reason, drop):
    outcome = classify_push_response(resp)

    assert type(outcome) is kind
    if reason:
        assert outcome.reason == reason
        assert outcome.drop_token is drop


@pytest.mark.parametrize(("code", "kind"), [
    (421, TransientChannelError), (450, TransientChannelError), (452, TransientChannelError),
    (550, PermanentChannelError), (553, PermanentChannelError), (554, PermanentChannelError),
    (535, ChannelConfigError), (530, ChannelConfigError),
])
def test_smtp_reply_outcomes(code, kind):
    assert type(classify_smtp_reply(code, "text")) is kind


def test_retry_after_reaches_the_error():
    outcome = classify_push_response(response(503, None, {"Retry-After": "12"}))

    assert outcome.retry_after == 12


def test_message_id_is_stable_and_unique_per_notification():
    assert message_id_for("n-1", "shop.example") == message_id_for("n-1", "shop.example")
    assert message_id_for("n-1", "shop.example") != message_id_for("n-2", "shop.example")
