"""enqueue_email_change: validated before any write, idempotent on request_id, no PII
in Redis, and durable when Redis is down."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from relay.db import connection
from relay.errors import InvalidInput
from sync_worker import enqueue_email_change
from tests.support import free_port, run_cli
from tests.support.rows import table_count
from tests.support.sync import changes, emails_in_redis, redis_values

GOOD = {"customer_id": "C-1", "current_email": "c1@example.com",
        "new_email": "c1.new@example.com", "brand": "acme", "country": "ES"}


def _outbox_row(change_id):
    # not outbox.get(): psycopg cannot load next_attempt_at = 'infinity' (waiting rows)
    with connection() as conn:
        row = conn.execute(
            """SELECT published_at, parked_reason, done_at,
                      next_attempt_at = 'infinity' AS waits_for_wake
               FROM outbox WHERE entity_id = %s""", (change_id,)).fetchone()
        conn.commit()
    return row


@pytest.mark.parametrize(("field", "value"), [
    ("current_email", "nope"), ("new_email", "C1@EXAMPLE.COM"), ("country", "ZZ"),
    ("brand", "initech"), ("customer_id", "x" * 65), ("request_id", "r" * 129),
])
def test_bad_input_names_the_field_and_writes_nothing(db, broker, redis_client, field, value):
    with pytest.raises(InvalidInput) as caught:
        enqueue_email_change(**{**GOOD, field: value})
    assert caught.value.field == field
    assert table_count("email_changes") == table_count("outbox") == 0
    assert redis_client.dbsize() == 0


def test_first_change_is_published_later_ones_wait(db, broker, redis_client):
    first = enqueue_email_change(**GOOD)
    second = enqueue_email_change(**{**GOOD, "current_email": "c1.new@example.com",
                                     "new_email": "c1.newer@example.com"})
    assert not first.queued_behind and second.queued_behind
    assert _outbox_row(first.change_id)["published_at"] is not None
    waiting = _outbox_row(second.change_id)
    assert waiting["published_at"] is None and waiting["parked_reason"] == "waiting"
    assert waiting["waits_for_wake"]
    # the message carries the change id, and Redis holds no email address
    assert any(str(first.change_id).encode() in v for v in redis_values(redis_client))
    assert emails_in_redis(redis_client) == []


def test_repeated_request_id_returns_the_first_receipt_even_in_a_race(db, broker):
    receipts = []
    barrier = threading.Barrier(6)

    def send():
        barrier.wait()
        receipts.append(enqueue_email_change(**GOOD, request_id="ticket-1"))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.change_id for r in receipts}) == 1
    assert sum(not r.duplicate for r in receipts) == 1
    assert len(changes()) == 1 and table_count("outbox") == 1


def test_cli_succeeds_with_redis_down_and_the_row_is_committed(relay_env):
    dead = dict(relay_env, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    result = run_cli(["enqueue", "email-change", "--customer-id", "C-7",
                      "--current-email", "c7@example.com", "--new-email", "c7.n@example.com",
                      "--brand", "acme", "--country", "es", "--json"], dead)
    assert result.returncode == 0, result.stderr
    change_id = uuid.UUID(json.loads(result.stdout)["change_id"])
    (row,) = changes([change_id])
    assert row["state"] == "pending" and row["country"] == "ES"
    assert _outbox_row(change_id)["published_at"] is None  # the sweep will publish it


def test_cli_bad_input_exits_2_naming_the_field(relay_env):
    result = run_cli(["enqueue", "email-change", "--customer-id", "C-7",
                      "--current-email", "c7@example.com", "--new-email", "c7.n@example.com",
                      "--brand", "acme", "--country", "XX"], relay_env)
    assert result.returncode == 2
    assert "country" in result.stderr
    assert result.stdout == ""
    assert table_count("email_changes") == 0


def test_cli_prints_the_change_id(relay_env):
    result = run_cli(["enqueue", "email-change", "--customer-id", "C-8",
                      "--current-email", "c8@example.com", "--new-email", "c8.n@example.com",
                      "--brand", "acme", "--country", "ES"], relay_env)
    assert result.returncode == 0, result.stderr
    change_id = uuid.UUID(result.stdout.strip())
    assert changes([change_id])[0]["customer_id"] == "C-8"
