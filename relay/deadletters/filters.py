"""Which dead letters a command means: `Filters`, durations ('90s', '15m', '1h30m', '7d')
and the SQL WHERE clause they make."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from relay.errors import InvalidInput

STATES = ("open", "replayed", "discarded")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_RE = re.compile(r"^(?:\d+[smhdw])+$")
_PART_RE = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str, option: str = "duration") -> timedelta:
    """'90s', '15m', '1h', '1h30m', '7d', '2w' -> timedelta; InvalidInput naming `option`."""
    raw = (text or "").strip().lower()
    if not _DURATION_RE.match(raw):
        raise InvalidInput(option, f"expected a duration like 30m, 1h, 1h30m, 7d or 2w; "
                                   f"got {text!r}")
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART_RE.findall(raw))
    if seconds <= 0:
        raise InvalidInput(option, f"must be longer than zero; got {text!r}")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Filters:
    """Selection for list / bulk replay / bulk discard. `state='all'` means any state."""

    kind: str | None = None
    reason: str | None = None
    brand: str | None = None
    country: str | None = None
    older_than: timedelta | None = None
    newer_than: timedelta | None = None
    state: str = "open"
    limit: int | None = None

    def __post_init__(self) -> None:
        for name in ("kind", "reason", "brand", "country"):
            value = getattr(self, name)
            if value is not None and any(ord(c) < 32 or c == "\x7f" for c in value):
                raise InvalidInput(name, "must not contain control characters")
        if self.state not in (*STATES, "all"):
            raise InvalidInput("state", f"must be one of {', '.join(STATES)}, all; "
                                        f"got {self.state!r}")
        if self.limit is not None and self.limit < 1:
            raise InvalidInput("limit", "must be at least 1")
        if self.older_than and self.newer_than and self.older_than >= self.newer_than:
            raise InvalidInput("older-than", "must be shorter than --newer-than, "
                                             "or nothing can match")

    def where(self) -> tuple[str, list]:
        clauses, params = [], []
        for column, value in (("kind", self.kind), ("reason", self.reason),
                              ("brand", self.brand and self.brand.lower()),
                              ("country", self.country and self.country.upper())):
            if value:
                clauses.append(f"{column} = %s")
                params.append(value)
        if self.state != "all":
            clauses.append("state = %s")
            params.append(self.state)
        if self.older_than:
            clauses.append("created_at <= now() - %s")
            params.append(self.older_than)
        if self.newer_than:
            clauses.append("created_at >= now() - %s")
            params.append(self.newer_than)
        return (" AND ".join(clauses) or "TRUE"), params

    def with_state(self, state: str) -> Filters:
        return Filters(self.kind, self.reason, self.brand, self.country, self.older_than,
                       self.newer_than, state, self.limit)
