"""What a channel sends and what a provider answered: the typed boundary of the channels.

The service renders templates into one of these and hands it to the channel for that
kind of message. Each carries the notification id: email derives its Message-ID from it,
so a retried send reuses the same id and the recipient's mail client can de-duplicate.
Recipients (addresses, numbers, tokens) are PII: models here are never logged whole.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

E164_RE = re.compile(r"^\+[1-9]\d{7,14}$")
ChannelName = Literal["email", "sms", "push", "inapp"]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    notification_id: str = Field(min_length=1, max_length=200)


class EmailMessage(_Payload):
    """One email. `promotion=True` switches sender and adds RFC 8058 one-click headers."""

    to: str = Field(min_length=3, max_length=320)
    subject: str = Field(min_length=1, max_length=998)
    text: str
    html: str
    promotion: bool = False
    # Bounded so the List-Unsubscribe header stays one line under RFC 5322's 998 octets.
    unsubscribe_url: str | None = Field(None, max_length=900)

    @field_validator("to")
    @classmethod
    def _address(cls, v: str) -> str:
        if "@" not in v or any(c in v for c in "\r\n<>, "):
            raise ValueError("must be a bare email address")
        return v

    @field_validator("subject")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if "\n" in v or "\r" in v:
            raise ValueError("must be one line")
        return v

    @model_validator(mode="after")
    def _unsubscribe(self) -> EmailMessage:
        if self.promotion and not self.unsubscribe_url:
            raise ValueError("promotions need unsubscribe_url (RFC 8058 one-click)")
        if self.unsubscribe_url is not None and not self.unsubscribe_url.startswith("https://"):
            raise ValueError("unsubscribe_url must be https (RFC 8058)")
        return self


class SmsMessage(_Payload):
    to: str
    body: str = Field(min_length=1, max_length=1600)  # Twilio's hard limit

    @field_validator("to")
    @classmethod
    def _e164(cls, v: str) -> str:
        if not E164_RE.match(v):
            raise ValueError("must be an E.164 number like +34600000000")
        return v


class PushMessage(_Payload):
    token: str = Field(min_length=1, max_length=4096)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(max_length=2000)
    data: dict[str, str] = Field(default_factory=dict)  # FCM wants string values only


ChannelMessage = EmailMessage | SmsMessage | PushMessage


class Accepted(BaseModel):
    """The provider took the message (SMTP 250, API 2xx). This is what "sent" means."""

    model_config = ConfigDict(frozen=True)

    channel: ChannelName
    provider_message_id: str
    message_id: str | None = None      # email: the Message-ID header we set
    status: int | None = None          # SMTP reply code or HTTP status
