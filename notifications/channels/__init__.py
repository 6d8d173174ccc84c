"""Delivery channels behind one interface: `send(message) -> Accepted` or a typed error.

See `base.py` for the contract and the error types the caller decides retries from.
In-app delivery writes to the database and lives in `inapp.py` (added separately).
"""

from __future__ import annotations

from typing import Any

from notifications.channels.base import (
    Channel,
    ChannelConfigError,
    ChannelError,
    PermanentChannelError,
    TransientChannelError,
)
from notifications.channels.push import PushChannel
from notifications.channels.sms import SmsChannel
from notifications.channels.smtp import SmtpChannel
from notifications.payloads import Accepted

__all__ = [
    "Accepted",
    "Channel",
    "ChannelConfigError",
    "ChannelError",
    "PermanentChannelError",
    "PushChannel",
    "SmsChannel",
    "SmtpChannel",
    "TransientChannelError",
    "channels_from_settings",
]


def channels_from_settings(settings: Any) -> dict[str, Channel]:
    """The external channels keyed by channel name, for the composition root."""
    return {
        "email": SmtpChannel.from_settings(settings),
        "sms": SmsChannel.from_settings(settings),
        "push": PushChannel.from_settings(settings),
    }
