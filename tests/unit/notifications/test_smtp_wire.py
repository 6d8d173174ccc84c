"""The email written directly (mime._direct_wire) is byte for byte what the compat32
generator writes for the same message, and anything it cannot write simply goes through
the generator."""

from __future__ import annotations

import pytest

from notifications.channels import mime, smtp
from notifications.payloads import EmailMessage

DATE = "Mon, 30 Nov 2026 12:00:00 GMT"


def channel() -> smtp.SmtpChannel:
    return smtp.SmtpChannel("127.0.0.1", 25, email_from="Acme <orders@acme.example>",
                            promo_email_from="Acme Offers <offers@acme.example>")


def generator_bytes(message: EmailMessage, monkeypatch) -> bytes:
    monkeypatch.setattr(mime, "formatdate", lambda **_: DATE)
    return channel().build(message).as_bytes(policy=mime.WIRE_POLICY)


def direct_bytes(message: EmailMessage) -> bytes | None:
    sender = channel().promo_email_from if message.promotion else channel().email_from
    from_header, _, domain = mime.sender(sender)
    return mime._direct_wire(message, from_header,
                             mime.message_id_for(message.notification_id, domain), DATE)


PROMO = dict(notification_id="3f2b1c4e-0000-4000-8000-000000000001", to="ana@example.com",
             subject="40% off", promotion=True,
             unsubscribe_url="https://u.example/?b=acme&u=C-1&c=bf&t=" + "a" * 32)


@pytest.mark.parametrize("message", [
    EmailMessage(**PROMO, text="Hello,\n\nFrom now on: 40% off.\n.\nUnsubscribe: x",
                 html="<p>Hola, ¿qué tal? " + "x" * 200 + "</p>\n<p>From here</p>"),
    EmailMessage(**{**PROMO, "promotion": False, "unsubscribe_url": None},
                 text="Your order SO-1 is on its way\n", html="<p>Tracking</p>\r\n"),
    EmailMessage(**{**PROMO, "unsubscribe_url": "https://u.example/" + "u" * 300},
                 text="t", html=""),
], ids=["promotion", "order mail", "long unsubscribe link"])
def test_direct_bytes_are_the_generators(message, monkeypatch):
    assert direct_bytes(message) == generator_bytes(message, monkeypatch)


@pytest.mark.parametrize("subject", ["¡40 % de descuento!", "word " * 30])
def test_a_header_that_needs_encoding_or_folding_goes_through_the_generator(
        subject, monkeypatch):
    message = EmailMessage(**{**PROMO, "subject": subject}, text="t", html="h")
    assert direct_bytes(message) is None
    data, _ = channel().wire(message)
    monkeypatch.setattr(mime, "formatdate", lambda **_: DATE)
    assert data.split(b"Date:")[0] == generator_bytes(message, monkeypatch).split(b"Date:")[0]
