"""Where relay keeps personal data: one entry per table, read by retention, erasure,
access and the README. A table missing here holds none (ids, counts, times, outcomes,
codes); the proof test scans every text/json column of every table to keep this honest.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Holding:
    table: str
    columns: tuple[str, ...]
    what: str
    kept: str


HOLDINGS: tuple[Holding, ...] = (
    Holding("email_changes", ("current_email", "new_email", "sent_current_email"),
            "the emails of each change sent to Homeria",
            "until the change is finished (synced, carried, or dead with no open dead "
            "letter), then PII_RETENTION_DAYS"),
    Holding("order_events", ("payload",),
            "the order event as the OMS sent it: email, phone, push token, order contents",
            "until every notification of the event is finished, then PII_RETENTION_DAYS; "
            "the payload is then reduced to a skeleton (ids, type, brand, country, times)"),
    Holding("inbox", ("title", "body"), "rendered in-app messages",
            "PII_RETENTION_DAYS after they were written"),
    Holding("notifications", ("last_error",), "the provider's last error text (scrubbed)",
            "until the notification is finished, then PII_RETENTION_DAYS"),
    Holding("attempts", ("detail",), "provider response details (scrubbed)",
            "until the work is finished, then PII_RETENTION_DAYS"),
    Holding("dead_letters", ("error", "response_excerpt"),
            "error text and response excerpts (scrubbed)",
            "while open; PII_RETENTION_DAYS after they are resolved "
            "(DEAD_LETTER_RETENTION_DAYS deletes the row)"),
)


_registered: list[Holding] = []


def register(holding: Holding) -> None:
    """A feature's own table with personal data."""
    _registered.append(holding)


def holdings() -> tuple[Holding, ...]:
    from relay.bootstrap import load_features

    load_features()
    return (*HOLDINGS, *_registered)
