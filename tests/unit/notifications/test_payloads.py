"""What a channel accepts: malformed recipients and promotions without one-click fail early."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from notifications.channels.smtp import SmtpChannel
from notifications.payloads import EmailMessage, PushMessage, SmsMessage
from relay.errors import ConfigurationError


def email(**changes) -> dict:
    return {"notification_id": "n-1", "to": "ana@example.com", "subject": "Hi",
            "text": "t", "html": "<p>t</p>", **changes}


def test_promotion_needs_an_https_unsubscribe_url():
    with pytest.raises(ValidationError, match="unsubscribe_url"):
        EmailMessage(**email(promotion=True))
    with pytest.raises(ValidationError, match="https"):
        EmailMessage(**email(promotion=True, unsubscribe_url="http://shop.example/u"))
    assert EmailMessage(**email(promotion=True, unsubscribe_url="https://shop.example/u"))


@pytest.mark.parametrize("to", ["ana", "ana@example.com\r\nBcc: x@y.z", "Ana <ana@x.com>"])
def test_email_recipient_must_be_a_bare_address(to):
    with pytest.raises(ValidationError):
        EmailMessage(**email(to=to))


def test_subject_cannot_inject_headers():
    with pytest.raises(ValidationError):
        EmailMessage(**email(subject="Hi\r\nBcc: x@y.z"))


@pytest.mark.parametrize("to", ["600000000", "+0123456789", "+34 600 000 000", ""])
def test_sms_needs_e164(to):
    with pytest.raises(ValidationError):
        SmsMessage(notification_id="n-1", to=to, body="hi")


def test_push_data_values_are_strings():
    with pytest.raises(ValidationError):
        PushMessage(notification_id="n", token="t", title="x", body="y", data={"n": 1})


def test_smtp_credentials_never_travel_in_clear_to_a_remote_host():
    with pytest.raises(ConfigurationError, match="clear text"):
        SmtpChannel("smtp.example.com", 587, email_from="a@b.c", promo_email_from="d@e.f",
                    username="u", password="p")
    SmtpChannel("smtp.example.com", 587, email_from="a@b.c", promo_email_from="d@e.f",
                username="u", password="p", starttls=True)
