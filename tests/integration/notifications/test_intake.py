"""Intake against real PostgreSQL and Redis: rows, reasons, duplicates, nothing on bad
input, the bulk path and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from notifications import record_order_event, record_order_events
from relay.db import connection
from relay.errors import InvalidInput
from tests.integration.notifications.conftest import event, rows
from tests.support import run_cli


def count(table: str) -> int:
    with connection() as conn:
        n = conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]
        conn.commit()
    return n


def outbox_for(ids) -> list[dict]:
    with connection() as conn:
        found = conn.execute("SELECT * FROM outbox WHERE entity_id = ANY(%s)",
                             ([i for i in ids],)).fetchall()
        conn.commit()
    return found


def test_an_event_becomes_a_pending_row_a_standby_fallback_and_one_outbox_row(db, broker,
                                                                              redis_client):
    doc = event("shipped")
    created = record_order_event(doc)
    assert [(n.channel, n.state) for n in created] == [("email", "pending"), ("sms", "standby")]
    occurred = datetime.fromisoformat(doc["occurred_at"])
    assert {n.deadline for n in created} == {occurred + timedelta(seconds=7200)}
    (box,) = outbox_for([n.id for n in created])
    assert box["entity_id"] == created[0].id and box["queue"] == "notify.transactional"
    assert box["task"] == "notifications.send"
    # only the id travels through Redis
    (raw,) = redis_client.lrange("notify.transactional", 0, -1)
    assert "ana@" not in raw.decode() and str(created[0].id) in json.dumps(json.loads(raw))


def test_a_repeated_event_id_creates_nothing_and_returns_the_first_rows(db, broker):
    doc = event("shipped")
    first = record_order_event(doc)
    again = record_order_event(dict(doc, type="delivered"))
    assert [n.id for n in again] == [n.id for n in first]
    assert count("notifications") == 2 and count("outbox") == 1


def test_unique_event_and_channel_is_enforced_by_postgresql(db, broker):
    import psycopg

    created = record_order_event(event("shipped"))
    with connection() as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(
            """INSERT INTO notifications (id, event_id, channel, rank, event_type, customer_id,
               brand, country, queue, state, occurred_at, deadline)
               SELECT gen_random_uuid(), event_id, channel, 9, event_type, customer_id, brand,
                      country, queue, 'pending', occurred_at, deadline
               FROM notifications WHERE id = %s""", (created[0].id,))


def test_a_customer_without_a_phone_gets_a_recorded_suppression(db, broker):
    doc = event("out_for_delivery", customer__phone=None, customer__channels=["sms", "email"])
    record_order_event(doc)
    found = rows(doc["event_id"])
    assert (found["sms"]["state"], found["sms"]["reason"]) == ("suppressed",
                                                               "no_contact_for_channel")
    assert found["email"]["state"] == "pending"


def test_promotions_respect_opt_in_and_expiry_and_use_their_own_queue(db, broker):
    opted_out = event("promotion", customer__marketing_opt_in=False)
    expired = event("promotion", expires=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
    fine = event("promotion", customer__channels=["email", "push"])
    for doc in (opted_out, expired, fine):
        record_order_event(doc)
    assert {r["reason"] for r in rows(opted_out["event_id"]).values()} == {"opted_out"}
    assert {r["reason"] for r in rows(expired["event_id"]).values()} == {"expired"}
    sent = rows(fine["event_id"])
    assert (sent["email"]["state"], sent["push"]["state"]) == ("pending", "standby")
    (box,) = outbox_for([sent["email"]["id"]])
    assert (box["queue"], box["task"]) == ("notify.promotions", "notifications.promotions.send")
    assert count("outbox") == 1


def test_a_late_event_for_an_earlier_stage_is_superseded(db, broker):
    delivered = event("delivered")
    record_order_event(delivered)
    stale = event("shipped", order_id=delivered["order_id"],
                  occurred_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
    stale["order"]["number"] = delivered["order_id"]
    created = record_order_event(stale)
    assert {(n.state, n.reason) for n in created} == {("suppressed", "superseded")}


def test_invalid_input_writes_nothing(db, broker):
    with pytest.raises(InvalidInput) as caught:
        record_order_event(event("shipped", customer__email="nope"))
    assert caught.value.field == "customer.email"
    with pytest.raises(InvalidInput, match=r"event 2: country"):
        record_order_events([event(), event(), event(country="ZZ")])
    assert count("order_events") == count("notifications") == count("outbox") == 0


def test_bulk_intake_records_new_events_and_skips_known_ones(db, broker):
    docs = [event(), event("promotion"), event("delivered", customer__channels=["inapp"])]
    first = record_order_events(docs)
    assert (first.new_events, first.duplicates, len(first.notifications)) == (3, 0, 5)
    again = record_order_events([*docs, event()])
    assert (again.new_events, again.duplicates) == (1, 3)
    assert count("order_events") == 4 and count("outbox") == 4


def test_cli_records_json_lines_and_rejects_a_file_with_one_bad_line(relay_env, tmp_path):
    good = [event() for _ in range(3)]
    bad_file = tmp_path / "bad.jsonl"
    bad_file.write_text("\n".join(json.dumps(d) for d in [*good[:2],
                        event(customer__phone="600")]) + "\n")
    result = run_cli(["enqueue", "order-event", str(bad_file)], relay_env)
    assert result.returncode == 2, result.stderr
    assert "line 3: customer.phone" in result.stderr
    assert count("order_events") == 0
    good_file = tmp_path / "good.jsonl"
    good_file.write_text("\n".join(json.dumps(d) for d in good) + "\n\n")
    result = run_cli(["enqueue", "order-event", str(good_file), "--json"], relay_env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["events"], summary["new_events"], summary["notifications"]) == (3, 3, 6)
    # one event from stdin, repeated: nothing new
    result = run_cli(["enqueue", "order-event", "-", "--json"], relay_env,
                     input=json.dumps(good[0], indent=2))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["duplicates"] == 1


def test_concurrent_bulk_intakes_of_the_same_events_record_each_once(db, broker):
    # given two producers sending overlapping batches at the same moment
    import threading

    shared = [event() for _ in range(50)]
    batches = [shared + [event() for _ in range(10)], [event() for _ in range(10)] + shared]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def produce(batch):
        barrier.wait()
        try:
            results.append(record_order_events(batch))
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=produce, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then neither failed, each shared event was recorded once, and every event has rows
    assert errors == []
    assert sum(r.new_events for r in results) == 70
    assert sum(r.duplicates for r in results) == 50
    assert count("order_events") == 70 and count("outbox") == 70
    assert count("notifications") == 140


def test_a_batch_racing_another_intake_falls_back_and_skips_what_it_wrote(db, broker,
                                                                         monkeypatch):
    # given events another intake commits between this batch's lookup and its COPY
    from notifications.store import intake as store

    raced = [event() for _ in range(3)]
    record_order_events(raced)
    monkeypatch.setattr(store, "known_event_ids", lambda tx, ids: set())
    # when the batch (those three plus two new ones) is recorded
    intake = record_order_events([*raced, event(), event()])
    # then the COPY's unique violation sends it the ON CONFLICT way: two new, three known
    assert (intake.new_events, intake.duplicates) == (2, 3)
    assert count("order_events") == 5 and count("notifications") == 10
    assert count("outbox") == 5
