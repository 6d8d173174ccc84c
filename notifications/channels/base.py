"""The one interface every channel implements, and the errors it may raise.

A channel's `send(message)` either returns `Accepted` (the provider took it: SMTP 250,
API 2xx) or raises one of three things, and the caller decides retries from the type
alone:

- `TransientChannelError`: try again later (4xx SMTP, 429/5xx, timeouts, dropped
  connections). `retry_after` carries the provider's hint when it gave one.
- `ChannelConfigError` (a transient error with `alert=True`): our credentials, sender or
  endpoint are wrong (401, 535, unknown account). Retrying later is right once someone
  fixes the configuration, so the notification is not burnt, but on-call must hear now.
- `PermanentChannelError`: this recipient/message will never work (550 mailbox
  unavailable, invalid number, unsubscribed). `drop_token=True` for push means the
  device token is dead and must be removed from the customer's record.

Each channel keeps its status → outcome table in one `classify_*` function, next to its
client, so the table can be read against the provider's documentation in one place.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar, Protocol, runtime_checkable

import requests

from notifications.payloads import Accepted, ChannelMessage
from relay.errors import RelayError


class ChannelError(RelayError):
    """Base of the channel errors. `reason` is a stable, PII-free code for metrics/DLQ."""

    transient: ClassVar[bool] = False
    alert: ClassVar[bool] = False

    def __init__(self, channel: str, reason: str, detail: str = "", *,
                 status: int | None = None, retry_after: float | None = None,
                 drop_token: bool = False) -> None:
        self.channel = channel
        self.reason = reason
        self.detail = detail
        self.status = status
        self.retry_after = retry_after
        self.drop_token = drop_token
        text = f"{channel}: {reason}"
        if status is not None:
            text += f" (status {status})"
        super().__init__(f"{text}: {detail}" if detail else text)


class TransientChannelError(ChannelError):
    """Retry later; the message may succeed unchanged."""

    transient = True


class ChannelConfigError(TransientChannelError):
    """Our side is misconfigured (auth, sender, endpoint): alert, keep the notification."""

    alert = True


class PermanentChannelError(ChannelError):
    """Never retry this message to this recipient. See `drop_token` for push."""


@runtime_checkable
class Channel(Protocol):
    name: str

    def send(self, message: ChannelMessage) -> Accepted: ...

    def close(self) -> None: ...


DEFAULT_TIMEOUT = (3.05, 10.0)  # (connect, read) seconds for the HTTP providers

_session_lock = threading.Lock()
_session: requests.Session | None = None
_session_pid: int | None = None


def shared_session() -> requests.Session:
    """One `requests.Session` per process (pooled keep-alive connections).

    Re-created after a fork, so Celery's prefork children never share a parent's sockets.
    Auth is passed per request, never stored on the session, so clients can share it.
    """
    global _session, _session_pid
    with _session_lock:
        if _session is None or _session_pid != os.getpid():
            session = requests.Session()
            session.trust_env = False  # no proxy/netrc surprises from the environment
            _session, _session_pid = session, os.getpid()
        return _session


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent/garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def http_transport_error(channel: str, exc: requests.RequestException) -> ChannelError:
    """A request that got no HTTP answer. Timeouts and resets are transient; TLS is config.

    A read timeout after the request was written may mean the provider accepted it; the
    retry can duplicate. Neither Twilio nor FCM take an idempotency key, so we accept that.
    """
    if isinstance(exc, requests.exceptions.SSLError):
        return ChannelConfigError(channel, "tls_error", type(exc).__name__)
    if isinstance(exc, requests.Timeout):
        return TransientChannelError(channel, "timeout", type(exc).__name__)
    if isinstance(exc, requests.ConnectionError):
        return TransientChannelError(channel, "connection_error", type(exc).__name__)
    # InvalidURL, MissingSchema, ...: the request could not even be built; that is ours.
    return ChannelConfigError(channel, "request_error", type(exc).__name__)


def json_or_none(response: requests.Response) -> dict | None:
    try:
        doc = response.json()
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
