"""An error raised in a task reaches Sentry with no email address or phone number in it."""

from __future__ import annotations

import pytest

from relay import canary
from standins import sentry
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def test_task_error_reaches_sentry_scrubbed(relay_env, start_worker):
    with sentry.serve() as ingest:
        dsn = f"http://publickey@127.0.0.1:{ingest.port}/1"
        start_worker("maintenance", env={"SENTRY_DSN": dsn})
        # given a task whose failure message and note carry an email and a phone number
        canary.send("maintenance", fail=True, note="customer ana.s@example.com +34600123456")

        def error_events():
            return [raw for raw in ingest.state if b'"exception"' in raw]

        events = wait_until(error_events, timeout=30, message="an error event in Sentry")
        raw = b"\n".join(ingest.state)
        items = [i for e in events for i in sentry.envelope_items(e)]
    # then the event arrived, names the failure, and holds no PII
    exc_items = [i for i in items if "exception" in i]
    assert exc_items, items
    values = exc_items[0]["exception"]["values"]
    assert values[-1]["type"] == "CanaryFailure"
    assert "a***@example.com" in values[-1]["value"]
    assert b"ana.s@example.com" not in raw
    assert b"600123456" not in raw
    assert b"@example.com" not in raw.replace(b"a***@example.com", b"")
