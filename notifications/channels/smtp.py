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

Why `email.mime` with the compat32 policy and not `email.message.EmailMessage`: the modern
API parses every header it is given through the header registry and folds each again on
output; building and flattening one order email that way cost ~3 ms of CPU, more than the
rest of a send together. Here headers are plain strings (a non-ASCII Subject becomes RFC
2047 encoded words through `email.header.Header`, a display name through `formataddr`) and
the bodies are quoted-printable encoded by `binascii.b2a_qp` (C) instead of the pure-Python
encoder: the same message in ~0.9 ms.
"""

from __future__ import annotations

import binascii
import functools
import os
import re
import smtplib
import ssl
import threading
import uuid
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import formataddr, formatdate, parseaddr
from typing import Any

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
MESSAGE_ID_NAMESPACE = uuid.UUID("5b0c3f0e-8d1e-4c55-9a57-2f6f1f3c7a10")
QUEUE_ID_RE = re.compile(r"queued as\s+<?([A-Za-z0-9._@-]+)>?", re.IGNORECASE)
AUTH_CODES = {530, 534, 535, 538}  # auth required / too weak / credentials invalid


class _WirePolicy(Compat32):
    """compat32 (fast) with CRLF line ends, folding at 78 columns like any mail client —
    except a value with nowhere to fold (a long List-Unsubscribe URL): compat32 would move
    it whole onto a continuation line after an empty first line, which a parser reads back
    with a leading space. Such a value stays on its line; RFC 5322 allows up to 998."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        line = f"{name}: {value}"
        if isinstance(value, str) and value.isascii() and "\r" not in value \
                and "\n" not in value:
            # short enough not to fold (what compat32 would write too, without building a
            # Header per value: ~0.15 ms a message), or nowhere to fold it
            if len(line) <= self.max_line_length or (
                    len(line) <= 998 and " " not in value and "\t" not in value):
                return (line + self.linesep).encode("ascii")
        return super().fold_binary(name, value)


WIRE_POLICY = _WirePolicy(linesep="\r\n")


def message_id_for(notification_id: str, domain: str) -> str:
    """Stable across retries: the same notification always gets the same Message-ID."""
    return f"<{uuid.uuid5(MESSAGE_ID_NAMESPACE, notification_id)}@{domain}>"


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


def _subject(subject: str) -> str | Header:
    """Plain ASCII as it is; anything else as RFC 2047 encoded words (the generator folds
    both at 78 columns, each encoded word at most 75 characters as the RFC requires)."""
    return subject if subject.isascii() else Header(subject, "utf-8", header_name="Subject")


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    """A UTF-8 text part, quoted-printable (readable, 7-bit safe, lines under 76)."""
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii"))
    return part


@functools.lru_cache(maxsize=8)
def _sender(sender: str) -> tuple[str, str, str]:
    """(From header, envelope address, domain) of a configured sender, parsed once: the
    address parser cost ~0.1 ms a message."""
    name, address = parseaddr(sender)
    return (formataddr((name, address), charset="utf-8"), address,
            address.rpartition("@")[2] or "relay.invalid")


def _boundary(notification_id: str) -> str:
    """A MIME boundary of our own. Left to the generator, it draws a random one and
    compiles a regex to check it against the body (~0.4 ms a message). "=_" cannot occur
    in a quoted-printable body ("=" is always followed by two hex digits or a line end),
    so this boundary never collides with the parts."""
    return f"=_relay_{notification_id.replace('-', '')}"


_DOT_LINE = re.compile(rb"(?m)^\.")   # dot-stuffing, as smtplib.SMTP.data does
_LINE_END = re.compile(r"\r\n|\r|\n")


def _one_line_header(name: str, value: str) -> bool:
    """What _WirePolicy.fold_binary writes as `name: value` unchanged on one line."""
    line = f"{name}: {value}"
    return value.isascii() and "\r" not in value and "\n" not in value and (
        len(line) <= WIRE_POLICY.max_line_length
        or (len(line) <= 998 and " " not in value and "\t" not in value))


def _qp_part(text: str, subtype: str) -> str:
    """A text part as the compat32 generator writes `_text_part(text, subtype)`."""
    payload = binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")
    payload = _LINE_END.sub("\r\n", payload)   # as_bytes does not mangle "From " lines
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{payload}")


def _direct_wire(message: EmailMessage, from_header: str, message_id: str,
                 date: str) -> bytes | None:
    """`build(message).as_bytes(policy=WIRE_POLICY)` written without the email package,
    or None when a header would need folding or encoding (then the generator does it).
    tests/unit/notifications/test_smtp_wire.py holds the two byte for byte alike."""
    headers = [("From", from_header), ("To", message.to), ("Subject", message.subject),
               ("Date", date), ("Message-ID", message_id),
               ("X-Relay-Notification-Id", message.notification_id)]
    if message.promotion:
        headers += [("List-Unsubscribe", f"<{message.unsubscribe_url}>"),
                    ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
    else:
        headers.append(("Auto-Submitted", "auto-generated"))
    if not all(_one_line_header(name, value) for name, value in headers):
        return None
    boundary = _boundary(message.notification_id)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return (f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'
            f"MIME-Version: 1.0\r\n{head}\r\n--{boundary}\r\n"
            f"{_qp_part(message.text, 'plain')}\r\n--{boundary}\r\n"
            f"{_qp_part(message.html, 'html')}\r\n--{boundary}--\r\n").encode("ascii")


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
    def build(self, message: EmailMessage) -> MIMEMultipart:
        """multipart/alternative (plain first, HTML last: clients show the last they can)."""
        sender = self.promo_email_from if message.promotion else self.email_from
        from_header, _, domain = _sender(sender)
        mime = MIMEMultipart("alternative", _subparts=[_text_part(message.text, "plain"),
                                                       _text_part(message.html, "html")],
                             boundary=_boundary(message.notification_id))
        mime["From"] = from_header
        mime["To"] = message.to
        mime["Subject"] = _subject(message.subject)
        mime["Date"] = formatdate(localtime=False, usegmt=True)
        mime["Message-ID"] = message_id_for(message.notification_id, domain)
        mime["X-Relay-Notification-Id"] = message.notification_id
        if message.promotion:
            mime["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        else:
            mime["Auto-Submitted"] = "auto-generated"
        return mime

    def wire(self, message: EmailMessage) -> tuple[bytes, str]:
        """(the message as sent, its Message-ID): written directly when every header is a
        short ASCII line (what the generator would write for it, byte for byte; ~0.4 ms a
        message less), else through `build` and the generator."""
        sender = self.promo_email_from if message.promotion else self.email_from
        from_header, _, domain = _sender(sender)
        message_id = message_id_for(message.notification_id, domain)
        data = _direct_wire(message, from_header, message_id,
                            formatdate(localtime=False, usegmt=True))
        if data is None:
            data = self.build(message).as_bytes(policy=WIRE_POLICY)
        return data, message_id

    # -- sending ----------------------------------------------------------------------
    def send(self, message: EmailMessage) -> Accepted:
        data, message_id = self.wire(message)
        envelope_from = _sender(self.promo_email_from if message.promotion
                                else self.email_from)[1]
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
