"""The SMS channel against the Twilio-shaped stand-in: accepted, refused, retried, alerted."""

from __future__ import annotations

import logging

import pytest

from notifications.channels import (
    ChannelConfigError,
    PermanentChannelError,
    SmsChannel,
    TransientChannelError,
)
from notifications.payloads import SmsMessage
from relay.settings import load_settings
from standins import sms
from tests.integration.channels.conftest import FAST


def text(to: str = "+34600000123", body: str = "Acme: your order SO-5531 has shipped.",
         notification_id: str = "n-1") -> SmsMessage:
    return SmsMessage(notification_id=notification_id, to=to, body=body)


def test_accepted_sms_returns_the_twilio_sid(sms_api, sms_channel):
    accepted = sms_channel.send(text())

    [stored] = sms_api.state.messages()
    assert accepted.provider_message_id == stored.sid
    assert accepted.provider_message_id.startswith("SM")
    assert accepted.status == 201
    assert (stored.to, stored.from_, stored.body) == (
        "+34600000123", "+15005550006", "Acme: your order SO-5531 has shipped.")
    [request] = sms_api.requests("/2010-04-01/Accounts/")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize(("to", "reason", "code"), [
    ("+15005550001", "invalid_to", 21211),
    ("+15005550009", "not_mobile", 21614),
    ("+15005550004", "unsubscribed", 21610),
    ("+15005550002", "unroutable_to", 21612),
])
def test_recipient_errors_are_permanent(sms_api, sms_channel, to, reason, code):
    with pytest.raises(PermanentChannelError) as caught:
        sms_channel.send(text(to=to))

    assert caught.value.reason == reason
    assert caught.value.status == 400
    assert str(code) in caught.value.detail
    assert sms_api.state.messages() == []


def test_a_number_that_replied_stop_is_permanent(sms_api, sms_channel):
    sms_api.state.unsubscribe("+34600000123")

    with pytest.raises(PermanentChannelError) as caught:
        sms_channel.send(text())

    assert caught.value.reason == "unsubscribed"


def test_wrong_token_is_a_config_error_not_a_burnt_message(sms_api):
    channel = SmsChannel(sms_api.url, sms.DEFAULT_SID, "wrong-token", "+15005550006",
                         timeout=FAST)

    with pytest.raises(ChannelConfigError) as caught:
        channel.send(text())

    assert caught.value.status == 401
    assert caught.value.transient and caught.value.alert
    assert caught.value.reason == "auth_failed"


def test_rate_limit_is_transient_with_retry_after(sms_api, sms_channel):
    sms_api.faults.update(burst_429=1, retry_after=7)

    with pytest.raises(TransientChannelError) as caught:
        sms_channel.send(text())
    sms_channel.send(text())

    assert caught.value.status == 429
    assert caught.value.retry_after == 7
    assert len(sms_api.state.messages()) == 1


def test_server_error_is_transient(sms_api, sms_channel):
    sms_api.faults.update(error_rate=1, error_status=503)

    with pytest.raises(TransientChannelError) as caught:
        sms_channel.send(text())

    assert caught.value.reason == "provider_error"
    assert not caught.value.alert


def test_slow_api_times_out_as_transient(sms_api):
    channel = SmsChannel(sms_api.url, sms.DEFAULT_SID, sms.DEFAULT_TOKEN, "+15005550006",
                         timeout=(1.0, 0.2))
    sms_api.faults.update(latency_ms=1000)

    with pytest.raises(TransientChannelError) as caught:
        channel.send(text())

    assert caught.value.reason == "timeout"


def test_dropped_connection_is_transient(sms_api, sms_channel):
    sms_api.faults.update(outage_seconds=30)

    with pytest.raises(TransientChannelError) as caught:
        sms_channel.send(text())

    assert caught.value.reason == "connection_error"


def test_nothing_listening_is_transient(closed_port):
    channel = SmsChannel(f"http://127.0.0.1:{closed_port}", sms.DEFAULT_SID,
                         sms.DEFAULT_TOKEN, "+15005550006", timeout=FAST)

    with pytest.raises(TransientChannelError) as caught:
        channel.send(text())

    assert caught.value.reason == "connection_error"


def test_from_settings_talks_to_the_configured_account(sms_api):
    settings = load_settings(
        DATABASE_URL="postgresql://localhost/x", REDIS_URL="redis://localhost",
        SMS_API_URL=sms_api.url, SMS_ACCOUNT_SID=sms.DEFAULT_SID,
        SMS_AUTH_TOKEN=sms.DEFAULT_TOKEN, SMS_FROM="Acme")

    SmsChannel.from_settings(settings).send(text())

    assert sms_api.state.messages()[0].from_ == "Acme"


def test_plain_http_is_refused_for_a_remote_host():
    with pytest.raises(ValueError, match="https"):
        SmsChannel("http://sms.example.com", "AC1", "t", "+15005550006")


def test_logs_mask_the_number(sms_api, sms_channel, caplog):
    caplog.set_level(logging.INFO, logger="notifications.channels.sms")

    sms_channel.send(text())

    [record] = caplog.records
    assert record.fields["to"] == "+34******123"
    assert "+34600000123" not in caplog.text
