"""The email message itself: MIME parts, headers and the bytes put on the wire.

Why `email.mime` with the compat32 policy and not `email.message.EmailMessage`: the modern
API parses every header it is given through the header registry and folds each again on
output; building and flattening one order email that way cost ~3 ms of CPU, more than the
rest of a send together. Here headers are plain strings (a non-ASCII Subject becomes RFC
2047 encoded words through `email.header.Header`, a display name through `formataddr`) and
the bodies are quoted-printable encoded by `binascii.b2a_qp` (C) instead of the pure-Python
encoder. When every header is a short ASCII line the bytes are written directly
(`wire`), byte for byte what the generator would write (tests/unit/notifications/
test_smtp_wire.py).

The Message-ID is derived from the notification id, so a retry after an ambiguous
failure sends the same Message-ID and receiving systems can de-duplicate.
"""

from __future__ import annotations

import binascii
import functools
import re
import uuid
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import formataddr, formatdate, parseaddr
from typing import Any

from notifications.payloads import EmailMessage

MESSAGE_ID_NAMESPACE = uuid.UUID("5b0c3f0e-8d1e-4c55-9a57-2f6f1f3c7a10")
_LINE_END = re.compile(r"\r\n|\r|\n")


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
def sender(sender_address: str) -> tuple[str, str, str]:
    """(From header, envelope address, domain) of a configured sender, parsed once: the
    address parser cost ~0.1 ms a message."""
    name, address = parseaddr(sender_address)
    return (formataddr((name, address), charset="utf-8"), address,
            address.rpartition("@")[2] or "relay.invalid")


def _boundary(notification_id: str) -> str:
    """A MIME boundary of our own. Left to the generator, it draws a random one and
    compiles a regex to check it against the body (~0.4 ms a message). "=_" cannot occur
    in a quoted-printable body ("=" is always followed by two hex digits or a line end),
    so this boundary never collides with the parts."""
    return f"=_relay_{notification_id.replace('-', '')}"


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


def build(message: EmailMessage, sender_address: str) -> MIMEMultipart:
    """multipart/alternative (plain first, HTML last: clients show the last they can)."""
    from_header, _, domain = sender(sender_address)
    multipart = MIMEMultipart("alternative", _subparts=[_text_part(message.text, "plain"),
                                                   _text_part(message.html, "html")],
                         boundary=_boundary(message.notification_id))
    multipart["From"] = from_header
    multipart["To"] = message.to
    multipart["Subject"] = _subject(message.subject)
    multipart["Date"] = formatdate(localtime=False, usegmt=True)
    multipart["Message-ID"] = message_id_for(message.notification_id, domain)
    multipart["X-Relay-Notification-Id"] = message.notification_id
    if message.promotion:
        multipart["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        multipart["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    else:
        multipart["Auto-Submitted"] = "auto-generated"
    return multipart

def wire(message: EmailMessage, sender_address: str) -> tuple[bytes, str]:
    """(the message as sent, its Message-ID): written directly when every header is a
    short ASCII line (what the generator would write for it, byte for byte; ~0.4 ms a
    message less), else through `build` and the generator."""
    from_header, _, domain = sender(sender_address)
    message_id = message_id_for(message.notification_id, domain)
    data = _direct_wire(message, from_header, message_id,
                        formatdate(localtime=False, usegmt=True))
    if data is None:
        data = build(message, sender_address).as_bytes(policy=WIRE_POLICY)
    return data, message_id

