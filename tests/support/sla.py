"""SLA tests' equipment: events recorded in the past (the clock is a `now` argument, never
a sleep) and every alert captured."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from notifications import record_order_event
from relay import alerts
from tests.support.events import event


def past_event(kind: str = "shipped", minutes_ago: float = 0.0, **changes) -> dict:
    """Record an order event that happened `minutes_ago`; returns the event document."""
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    doc = event(kind, occurred_at=at.isoformat(), **changes)
    record_order_event(doc)
    return doc


class Alerts:
    """Every alerts.alert() call, by key (thread-safe); the real function still runs."""

    def __init__(self, real) -> None:
        self.calls: list[tuple[str, str, dict]] = []
        self._lock = threading.Lock()
        self._real = real

    def __call__(self, key, title, text, severity="error", fields=None, **kw):
        with self._lock:
            self.calls.append((key, text, dict(fields or {})))
        return self._real(key, title, text, severity, fields, **kw)

    def keys(self) -> list[str]:
        return [k for k, _, _ in self.calls]


@pytest.fixture
def captured(monkeypatch) -> Alerts:
    spy = Alerts(alerts.alert)
    monkeypatch.setattr(alerts, "alert", spy)
    return spy
