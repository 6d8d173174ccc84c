"""The `Retry-After` header as seconds from now: one parser for every peer relay calls.

RFC 9110 §10.2.3: `Retry-After = HTTP-date / delay-seconds`, and delay-seconds is
`1*DIGIT`. So "120" and "Wed, 21 Oct 2026 07:28:00 GMT" (or the obsolete RFC 850 and
asctime forms a recipient must still accept) are read; "-3", "1.5", "inf" or "soon" are
not a hint at all (None), and the caller falls back to its own backoff rather than act on
a value no server should send. A date already past means "now" (0.0).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_DELAY_SECONDS = re.compile(r"[0-9]+")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait, or None when the header is absent or malformed."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if _DELAY_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:   # asctime carries no zone; HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_after_in(headers, now: datetime | None = None) -> float | None:
    """The Retry-After of a response's headers, parsed. Any mapping will do: the name is
    matched whatever its case (a `requests` response's headers ignore case already, a plain
    dict does not)."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            return parse_retry_after(value, now)
    return None
