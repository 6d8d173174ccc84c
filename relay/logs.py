"""Structured JSON logs, one line per event, with PII masked on the way out.

Use `log = get_logger(__name__)` then `log.info("homeria.synced", change_id=..., status=200)`.
The first argument is a stable event name; keyword fields become JSON keys. Every string
that reaches the handler passes through `scrub()`, so an email address or phone number
that slips into a message is masked even if the caller forgot.

Context bound with `bind(task_id=...)` (the house task decorator does this) is added to
every line logged in that context.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

EMAIL_RE = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")
# E.164-ish phone numbers: a + and 8-15 digits, optionally spaced. Ids like "C-1001" or
# UUIDs do not match because they lack the leading '+'.
PHONE_RE = re.compile(r"\+\d[\d \-]{6,16}\d")

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "relay_log_context", default=None
)


def mask_email(email: str | None) -> str | None:
    """'ana.s@example.com' -> 'a***@example.com'. Keeps the domain for debugging."""
    if not email:
        return email
    local, sep, domain = email.partition("@")
    if not sep:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str | None) -> str | None:
    """'+34600000123' -> '+34*****123'."""
    if not phone:
        return phone
    digits = phone.strip()
    return digits[:3] + "*" * max(len(digits) - 6, 3) + digits[-3:]


def scrub(text: str) -> str:
    """Mask every email address and phone number inside free text."""
    text = EMAIL_RE.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return PHONE_RE.sub(lambda m: mask_phone(m.group(0)) or "", text)


def scrub_value(value: Any) -> Any:
    """Recursively scrub strings inside dicts, lists and tuples."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(v) for v in value]
    return value


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add fields to every log line emitted inside the block (e.g. task_id)."""
    current = dict(_context.get() or {})
    current.update(fields)
    token = _context.set(current)
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", None) or record.getMessage(),
        }
        doc.update(_context.get() or {})
        doc.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return json.dumps(scrub_value(doc), default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """For people at a terminal (scripts/run): `12:00:01 INFO  event key=value ...`."""

    def format(self, record: logging.LogRecord) -> str:
        fields = dict(_context.get() or {})
        fields.update(getattr(record, "fields", None) or {})
        fields.pop("task", None)
        event = getattr(record, "event", None) or record.getMessage()
        when = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        extras = " ".join(f"{k}={v}" for k, v in fields.items())
        line = f"{when} {record.levelname:<7} {event} {extras}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return scrub(line)


class StructLogger:
    """A thin wrapper so call sites read `log.info("event", key=value)`."""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    def _log(self, level: int, event: str, exc_info: bool = False, **fields: Any) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(
                level, event, exc_info=exc_info, extra={"event": event, "fields": fields},
                stacklevel=3,
            )

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, **fields)

    def exception(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, exc_info=True, **fields)


def get_logger(name: str) -> StructLogger:
    return StructLogger(name)


def configure_logging(level: str = "INFO", stream=None, fmt: str = "json") -> None:
    """Route every logger (ours, Celery's, libraries') through one handler: JSON lines in
    production, `fmt="console"` for people watching scripts/run."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(ConsoleFormatter() if fmt == "console" else JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # urllib3 logs full URLs at DEBUG (query strings may hold emails); keep it quiet.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
