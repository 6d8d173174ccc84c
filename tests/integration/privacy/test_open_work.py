"""Open work keeps its data: retention waits for it, erasure says it could not finish."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from relay import deadletters
from relay.privacy import retention
from sync_worker import enqueue_email_change, service
from tests.support import run_cli
from tests.support.sync import change

LATER = timedelta(days=31)


def test_open_dead_letter_keeps_its_data_until_resolved(sync_rt, homeria):
    # given a change that died (no such customer) with its dead letter open
    dead = enqueue_email_change("C-9", "nobody@example.com", "nobody2@example.com",
                                "acme", "ES")
    assert service.deliver(dead.change_id) == "dead"
    # when retention runs long after
    retention.run(now=datetime.now(UTC) + LATER)
    # then the change keeps its emails (a replay needs them)
    assert change(dead.change_id)["current_email"] == "nobody@example.com"
    # and once on-call discards it, the next run blanks them
    (letter,) = deadletters.find()
    deadletters.discard([letter["id"]], by="oncall")
    done = retention.run(now=datetime.now(UTC) + LATER)
    row = change(dead.change_id)
    assert row["current_email"] is None and row["new_email"] is None
    assert row["redacted_at"] is not None and done.redacted["dead_letters"] == 1
    assert row["state"] == "dead" and row["finished_at"] is not None   # facts stay


def test_retention_leaves_recent_rows_alone(sync_rt, homeria):
    synced = enqueue_email_change("C-1", "c1@example.com", "c1.new@example.com", "acme", "ES")
    assert service.deliver(synced.change_id) == "synced"
    assert retention.run().redacted["email_changes"] == 0
    assert change(synced.change_id)["new_email"] == "c1.new@example.com"


def test_erasure_with_work_in_flight_exits_1_and_keeps_that_work(sync_rt, homeria,
                                                                  relay_env):
    # given one synced change and one still pending for the customer
    synced = enqueue_email_change("C-2", "c2@example.com", "c2.new@example.com", "acme", "ES")
    assert service.deliver(synced.change_id) == "synced"
    pending = enqueue_email_change("C-2", "c2.new@example.com", "c2.third@example.com",
                                   "acme", "ES")
    # when the customer is erased
    result = run_cli(["privacy", "erase", "--customer-id", "C-2", "--brand", "acme",
                      "--country", "ES", "--yes", "--json"], relay_env)
    # then the finished change is erased, the pending one kept, and the exit says so
    assert result.returncode == 1 and "in flight" in result.stderr
    assert json.loads(result.stdout)["kept_open"] == 1
    assert change(synced.change_id)["new_email"] is None
    assert change(synced.change_id)["customer_id"].startswith("erased-")
    assert change(pending.change_id)["new_email"] == "c2.third@example.com"
    # and once it has been delivered, a second erasure completes
    assert service.deliver(pending.change_id) == "synced"
    again = run_cli(["privacy", "erase", "--customer-id", "C-2", "--brand", "acme",
                     "--country", "ES", "--yes", "--json"], relay_env)
    assert again.returncode == 0, again.stderr
    assert change(pending.change_id)["new_email"] is None
