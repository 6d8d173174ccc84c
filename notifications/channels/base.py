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
client, so the table can be read against the provider's documentation in one place. The
Homeria client follows the same idiom (`Synced`, or a raised `HomeriaError`): an adapter
returns what it achieved and raises a typed failure; one function per domain decides
what the failure does (`notifications.service`, `sync_worker.delivery.record`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Protocol, runtime_checkable

import requests

from notifications.payloads import Accepted, ChannelMessage
from relay.errors import RelayError
from relay.http_sessions import session
from relay.perprocess import PerProcess


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

# Auth is passed per request, never stored on the session, so the channels can share it.
# No `for_url`: the environment is not read for the providers (no proxy/netrc surprises).
_session: PerProcess[requests.Session] = PerProcess(
    lambda: session(timeout=DEFAULT_TIMEOUT), lambda s: s.close())


def shared_session() -> requests.Session:
    """One session per process for the HTTP channels (pooled keep-alive connections)."""
    return _session.get()


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


def post_to_provider(channel: str, session: requests.Session, url: str,
                     classify: Callable[[requests.Response], Accepted | ChannelError],
                     on_failure: Callable[[ChannelError], object], **request) -> Accepted:
    """One HTTP provider call: `Accepted`, or the channel error raised (after `on_failure`
    logged it). The status → outcome table is the channel's `classify`."""
    try:
        response = session.post(url, **request)
    except requests.RequestException as exc:
        error = http_transport_error(channel, exc)
    else:
        outcome = classify(response)
        if not isinstance(outcome, ChannelError):
            return outcome
        error = outcome
    on_failure(error)
    raise error
