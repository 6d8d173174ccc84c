"""Email over SMTP (smtplib), one kept-alive connection per thread.

Why per thread: smtplib connections are not thread-safe, and opening one per message
costs a TCP + TLS + AUTH handshake. A worker thread keeps its connection and reconnects
when it finds it dead. A reused connection that turns out closed *before* the server
took the message (at MAIL FROM) is retried once on a fresh one; a failure after DATA is
never retried here, because the server may have queued the message.

The Message-ID is derived from the notification id, so a retry after an ambiguous
failure sends the same Message-ID and receiving systems can de-duplicate. The provider
message id is the queue id from the final 250 reply when the server gives one
("250 2.0.0 Ok: queued as 4BqX1"), else the Message-ID. `classify_smtp_reply` maps
replies: 4xx transient, 5xx permanent, auth and TLS failures → config errors.

Building the message itself (MIME, headers, the bytes on the wire) is
`notifications/channels/mime.py`.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import threading
from email.mime.multipart import MIMEMultipart
from typing import Any

from notifications.channels import mime
from notifications.channels.base import (
    ChannelConfigError,
    ChannelError,
    PermanentChannelError,
    TransientChannelError,
)
from notifications.payloads import Accepted, EmailMessage
from relay.errors import ConfigurationError
from relay.logs import get_logger, mask_email
from relay.settings import is_loopback_host

log = get_logger(__name__)
CHANNEL = "email"
QUEUE_ID_RE = re.compile(r"queued as\s+<?([A-Za-z0-9._@-]+)>?", re.IGNORECASE)
AUTH_CODES = {530, 534, 535, 538}  # auth required / too weak / credentials invalid


def classify_smtp_reply(code: int, text: str = "") -> ChannelError:
    """An SMTP reply that is not success → the error to raise. One table, here."""
    reason = f"smtp_{code}"
    if code in AUTH_CODES:
        return ChannelConfigError(CHANNEL, "auth_failed", text[:200], status=code)
    if 400 <= code < 500:
        return TransientChannelError(CHANNEL, reason, text[:200], status=code)
    if 500 <= code < 600:
        return PermanentChannelError(CHANNEL, reason, text[:200], status=code)
    return TransientChannelError(CHANNEL, "smtp_unexpected_reply", text[:200], status=code)


_DOT_LINE = re.compile(rb"(?m)^\.")   # dot-stuffing, as smtplib.SMTP.data does


def _reply_text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


class SmtpChannel:
    name = CHANNEL

    def __init__(self, host: str, port: int, *, email_from: str, promo_email_from: str,
                 ssl_mode: bool = False, starttls: bool = False, username: str | None = None,
                 password: str | None = None, timeout: float = 10.0,
                 tls_context: ssl.SSLContext | None = None,
                 local_hostname: str | None = None) -> None:
        if username and not (ssl_mode or starttls) and not is_loopback_host(host):
            raise ConfigurationError(
                "SMTP_URL would send credentials in clear text; use smtps:// or ?starttls=1")
        self.host, self.port, self.timeout = host, port, timeout
        self.ssl_mode, self.starttls = ssl_mode, starttls
        self._credentials = (username, password) if username else None
        # built only where TLS is used: loading the system CA store costs ~20 ms of CPU,
        # and a worker builds its channels on each thread's first send
        self.tls_context = tls_context or (ssl.create_default_context()
                                           if ssl_mode or starttls else None)
        self.local_hostname = local_hostname
        self.email_from, self.promo_email_from = email_from, promo_email_from
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> SmtpChannel:
        target = settings.smtp
        kwargs: dict[str, Any] = dict(
            email_from=settings.email_from, promo_email_from=settings.promo_email_from,
            ssl_mode=target.ssl, starttls=target.starttls, username=target.username,
            password=target.password, timeout=target.timeout)
        kwargs.update(overrides)
        return cls(target.host, target.port, **kwargs)

    # -- building ---------------------------------------------------------------------
    def _sender_of(self, message: EmailMessage) -> str:
        return self.promo_email_from if message.promotion else self.email_from

    def build(self, message: EmailMessage) -> MIMEMultipart:
        return mime.build(message, self._sender_of(message))

    def wire(self, message: EmailMessage) -> tuple[bytes, str]:
        return mime.wire(message, self._sender_of(message))

    # -- sending ----------------------------------------------------------------------
    def send(self, message: EmailMessage) -> Accepted:
        data, message_id = self.wire(message)
        envelope_from = mime.sender(self._sender_of(message))[1]
        try:
            code, reply = self._transaction(envelope_from, message.to, data)
        except ChannelError as error:
            log.warning("email.failed", notification_id=message.notification_id,
                        to=mask_email(message.to), reason=error.reason, status=error.status,
                        transient=error.transient, alert=error.alert)
            raise
        match = QUEUE_ID_RE.search(reply)
        accepted = Accepted(channel=CHANNEL, message_id=message_id, status=code,
                            provider_message_id=match.group(1) if match else message_id)
        log.info("email.accepted", notification_id=message.notification_id,
                 to=mask_email(message.to), provider_message_id=accepted.provider_message_id,
                 promotion=message.promotion)
        return accepted

    def _transaction(self, sender: str, rcpt: str, data: bytes) -> tuple[int, str]:
        conn, reused = self._connection()
        try:
            if conn.has_extn("pipelining"):
                return self._pipelined(conn, reused, sender, rcpt, data)
            try:
                code, raw = conn.mail(sender)
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                if not reused:
                    raise
                self._discard()  # a kept-alive connection the server closed meanwhile
                conn, _ = self._connection()
                code, raw = conn.mail(sender)
            if code != 250:
                raise self._refused(conn, code, raw)
            code, raw = conn.rcpt(rcpt)
            if code not in (250, 251):
                raise self._refused(conn, code, raw)
            code, raw = conn.data(data)
            if code != 250:
                raise self._refused(conn, code, raw)
            return code, _reply_text(raw)
        except ChannelError:
            raise
        except smtplib.SMTPResponseException as exc:  # e.g. DATA answered with 4xx/5xx
            self._discard()
            raise classify_smtp_reply(exc.smtp_code, _reply_text(exc.smtp_error)) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._discard()
            raise self._transport_error(exc) from None

    def _pipelined(self, conn: smtplib.SMTP, reused: bool, sender: str, rcpt: str,
                   data: bytes) -> tuple[int, str]:
        """MAIL, RCPT and DATA in one write and their three replies read after (RFC 2920,
        when the server offers PIPELINING): two round trips a message instead of four.
        The content goes only after DATA's 354, so a connection found dead before that
        (a kept-alive one the server closed) is retried once on a fresh one, as above."""
        try:
            codes = self._envelope(conn, sender, rcpt)
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            if not reused:
                raise
            self._discard()
            conn, _ = self._connection()
            codes = self._envelope(conn, sender, rcpt)
        (mail, mail_raw), (rcpt_code, rcpt_raw), (data_code, data_raw) = codes
        if data_code == 354 and (mail != 250 or rcpt_code not in (250, 251)):
            self._discard()   # a server that would take content without a recipient
        if mail != 250:
            raise self._refused(conn, mail, mail_raw)
        if rcpt_code not in (250, 251):
            raise self._refused(conn, rcpt_code, rcpt_raw)
        if data_code != 354:
            raise smtplib.SMTPDataError(data_code, data_raw)
        content = _DOT_LINE.sub(b"..", data)
        if not content.endswith(b"\r\n"):
            content += b"\r\n"
        conn.send(content + b".\r\n")
        code, raw = conn.getreply()
        if code != 250:
            raise self._refused(conn, code, raw)
        return code, _reply_text(raw)

    @staticmethod
    def _envelope(conn: smtplib.SMTP, sender: str, rcpt: str) -> list[tuple[int, bytes]]:
        conn.send(f"mail FROM:{smtplib.quoteaddr(sender)}\r\n"
                  f"rcpt TO:{smtplib.quoteaddr(rcpt)}\r\ndata\r\n")
        return [conn.getreply() for _ in range(3)]

    def _refused(self, conn: smtplib.SMTP, code: int, raw: bytes) -> ChannelError:
        """Reset the transaction so the connection stays usable for the next message."""
        try:
            if code == 421:
                raise smtplib.SMTPServerDisconnected("421")  # the server is closing
            conn.rset()
        except (smtplib.SMTPException, OSError):
            self._discard()
        return classify_smtp_reply(code, _reply_text(raw))

    @staticmethod
    def _transport_error(exc: BaseException) -> ChannelError:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return ChannelConfigError(CHANNEL, "tls_verify_failed", type(exc).__name__)
        # smtplib re-raises a read timeout as SMTPServerDisconnected; look underneath.
        if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
            return TransientChannelError(CHANNEL, "timeout", type(exc).__name__)
        return TransientChannelError(CHANNEL, "connection_error", type(exc).__name__)

    # -- the per-thread connection ----------------------------------------------------
    def _connection(self) -> tuple[smtplib.SMTP, bool]:
        """(connection, reused). Opens, secures and authenticates a new one if needed."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn, True
        try:
            conn = self._open()
        except smtplib.SMTPAuthenticationError as exc:
            raise ChannelConfigError(CHANNEL, "auth_failed", status=exc.smtp_code) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise ChannelConfigError(CHANNEL, "server_capability", str(exc)[:200]) from None
        except smtplib.SMTPResponseException as exc:  # greeting/EHLO/STARTTLS refused
            # A 5xx before any recipient is named says nothing about the recipient:
            # the server will not talk to us at all. Config, not a burnt notification.
            if exc.smtp_code >= 500 and exc.smtp_code not in AUTH_CODES:
                raise ChannelConfigError(CHANNEL, "server_refused",
                                         _reply_text(exc.smtp_error)[:200],
                                         status=exc.smtp_code) from None
            raise classify_smtp_reply(exc.smtp_code, _reply_text(exc.smtp_error)) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise self._transport_error(exc) from None
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn, False

    def _open(self) -> smtplib.SMTP:
        if self.ssl_mode:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, local_hostname=self.local_hostname,
                timeout=self.timeout, context=self.tls_context)
        else:
            conn = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname,
                                timeout=self.timeout)
        try:
            conn.ehlo()
            if self.starttls:
                conn.starttls(context=self.tls_context)
                conn.ehlo()
            if self._credentials:
                conn.login(*self._credentials)
        except BaseException:
            conn.close()
            raise
        return conn

    def _discard(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        """Politely end this thread's connection (QUIT), if any."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()
