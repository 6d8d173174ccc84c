"""Real stand-ins on loopback port 0, one per test, and channels pointed at them."""

from __future__ import annotations

import socket

import pytest

from notifications.channels import PushChannel, SmsChannel, SmtpChannel
from standins import push, sms, smtp

EMAIL_FROM = "Relay Shop <orders@shop.example>"
PROMO_FROM = "Relay Shop Offers <offers@shop.example>"
FAST = (1.0, 1.0)  # (connect, read) seconds: keeps timeout tests quick


@pytest.fixture
def sink():
    with smtp.serve() as running:
        yield running


@pytest.fixture
def email_channel(sink):
    channel = SmtpChannel("127.0.0.1", sink.port, email_from=EMAIL_FROM,
                          promo_email_from=PROMO_FROM, timeout=1.0)
    yield channel
    channel.close()


@pytest.fixture
def sms_api():
    with sms.serve() as running:
        yield running


@pytest.fixture
def sms_channel(sms_api):
    return SmsChannel(sms_api.url, sms.DEFAULT_SID, sms.DEFAULT_TOKEN, "+15005550006",
                      timeout=FAST)


@pytest.fixture
def push_api():
    with push.serve() as running:
        yield running


@pytest.fixture
def push_channel(push_api):
    return PushChannel(push_api.url, push.DEFAULT_PROJECT, push.DEFAULT_TOKEN, timeout=FAST)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
