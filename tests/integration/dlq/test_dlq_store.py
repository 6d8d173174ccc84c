"""The dead-letter store against real PostgreSQL: record, replay, discard, purge."""

from __future__ import annotations

import uuid

import pytest

from relay import deadletters
from relay.db import transaction
from relay.deadletters import Filters
from relay.errors import NotFound
from tests.support.rows import fetch, outbox_row


def _record(entity_id, **kw):
    with transaction() as tx:
        return deadletters.record(tx, kind=kw.pop("kind", "email_change"), entity_id=entity_id,
                                  reason=kw.pop("reason", "customer_not_found"), **kw)


def test_recording_twice_keeps_one_open_row_and_refreshes_it(db):
    entity = uuid.uuid4()
    first = _record(entity, attempts=3, error="first", status_code=404)
    second = _record(entity, attempts=5, error="second", status_code=409,
                     reason="email_in_use")
    assert first == second
    (row,) = fetch("SELECT * FROM dead_letters WHERE entity_id = %s", (entity,))
    assert row["state"] == "open" and row["attempts"] == 5 and row["error"] == "second"
    assert row["reason"] == "email_in_use" and row["last_failed_at"] >= row["first_failed_at"]


def test_error_and_excerpt_are_scrubbed_and_truncated(db):
    entity = uuid.uuid4()
    dl_id = _record(entity, error="no customer ana.s@example.com " + "x" * 5000,
                    response_excerpt='{"email": "bo@example.org", "phone": "+34600000123"}')
    (row,) = fetch("SELECT error, response_excerpt FROM dead_letters WHERE id = %s", (dl_id,))
    assert "ana.s@example.com" not in row["error"] and "a***@example.com" in row["error"]
    assert len(row["error"]) <= deadletters.store.ERROR_LIMIT
    assert "bo@example.org" not in row["response_excerpt"]
    assert "+34600000123" not in row["response_excerpt"]


def test_a_new_dead_letter_reaches_sentry_with_kind_and_reason_only_once(db, monkeypatch):
    calls = []
    monkeypatch.setattr("relay.telemetry.capture_message",
                        lambda msg, level="error", **tags: calls.append((msg, tags)))
    entity = uuid.uuid4()
    _record(entity, error="ana@example.com is taken", reason="email_in_use")
    _record(entity, error="ana@example.com is taken", reason="email_in_use")  # redelivery
    assert calls == [("dead letter: email_change / email_in_use",
                      {"kind": "email_change", "reason": "email_in_use"})]


def test_nothing_is_announced_when_the_transaction_rolls_back(db, monkeypatch):
    calls = []
    monkeypatch.setattr("relay.telemetry.capture_message", lambda *a, **k: calls.append(a))
    with pytest.raises(RuntimeError), transaction() as tx:
        deadletters.record(tx, kind="email_change", entity_id=uuid.uuid4(), reason="x")
        raise RuntimeError("give-up transaction failed")
    assert calls == [] and fetch("SELECT * FROM dead_letters") == []


def test_replay_reopens_the_entity_marks_the_row_and_audits(dead_canary):
    canary_id, dl_id = dead_canary()
    (result,) = deadletters.replay([dl_id], by="ana", why="INC-1 fixed")
    assert result.outcome == "replayed"
    (row,) = fetch("SELECT * FROM dead_letters WHERE id = %s", (dl_id,))
    assert (row["state"], row["resolved_by"], row["resolution_note"], row["replay_count"]) == (
        "replayed", "ana", "INC-1 fixed", 1)
    assert row["resolved_at"] is not None
    box = outbox_row(canary_id)
    assert box["done_at"] is None and box["published_at"] is not None
    events = fetch("SELECT * FROM dead_letter_events WHERE dead_letter_id = %s", (dl_id,))
    assert [(e["action"], e["by"], e["note"]) for e in events] == [
        ("replayed", "ana", "INC-1 fixed")]


def test_replaying_twice_is_harmless_and_a_second_death_opens_a_new_row(dead_canary):
    canary_id, dl_id = dead_canary()
    deadletters.replay([dl_id], by="ana")
    (again,) = deadletters.replay([dl_id], by="bo")
    assert again.outcome == "skipped" and "already replayed" in again.message
    assert "ana" in again.message
    (row,) = fetch("SELECT replay_count FROM dead_letters WHERE id = %s", (dl_id,))
    assert row["replay_count"] == 1
    assert len(fetch("SELECT * FROM dead_letter_events")) == 1
    # the entity dies again: a NEW open row, the replayed one stays as history
    new_id = _record(canary_id, kind="canary", reason="max_attempts")
    assert new_id != dl_id
    states = {r["id"]: r["state"] for r in fetch("SELECT id, state FROM dead_letters")}
    assert states == {dl_id: "replayed", new_id: "open"}
    assert [o["id"] for o in deadletters.show(new_id)["other_dead_letters"]] == [dl_id]


def test_dry_run_changes_nothing(dead_canary):
    canary_id, dl_id = dead_canary()
    (result,) = deadletters.replay([dl_id], by="ana", dry_run=True)
    assert result.outcome == "would_replay"
    assert fetch("SELECT state FROM dead_letters")[0]["state"] == "open"
    assert outbox_row(canary_id)["done_at"] is not None


def test_a_kind_without_replayer_fails_clearly_and_stays_open(db):
    dl_id = _record(uuid.uuid4(), kind="mystery")
    (result,) = deadletters.replay([dl_id], by="ana")
    assert result.outcome == "failed" and "no replayer registered for kind 'mystery'" in (
        result.message)
    assert fetch("SELECT state FROM dead_letters")[0]["state"] == "open"


def test_discard_keeps_the_row_and_an_audit_event(dead_canary):
    canary_id, dl_id = dead_canary()
    (result,) = deadletters.discard([dl_id], by="ana", why="customer closed the account")
    assert result.outcome == "discarded"
    (row,) = fetch("SELECT * FROM dead_letters WHERE id = %s", (dl_id,))
    assert row["state"] == "discarded" and row["replay_count"] == 0
    assert outbox_row(canary_id)["done_at"] is not None, "discard does not reopen work"
    (event,) = fetch("SELECT * FROM dead_letter_events WHERE dead_letter_id = %s", (dl_id,))
    assert (event["action"], event["by"], event["note"]) == (
        "discarded", "ana", "customer closed the account")
    assert deadletters.replay([dl_id], by="bo")[0].outcome == "skipped"


def test_purge_removes_only_resolved_rows_past_retention_and_audits(dead_canaries,
                                                                    monkeypatch):
    (_, old), (_, recent), (_, still_open) = dead_canaries(3)
    deadletters.discard([old, recent], by="ana")
    with transaction() as tx:
        tx.execute("UPDATE dead_letters SET resolved_at = now() - interval '40 days'"
                   " WHERE id = %s", (old,))
        tx.execute("UPDATE dead_letters SET created_at = now() - interval '90 days'"
                   " WHERE id = %s", (still_open,))
    monkeypatch.setenv("DEAD_LETTER_RETENTION_DAYS", "30")
    assert deadletters.purge_expired() == 1
    assert {r["id"] for r in fetch("SELECT id FROM dead_letters")} == {recent, still_open}
    actions = [(e["dead_letter_id"], e["action"]) for e in fetch(
        "SELECT * FROM dead_letter_events WHERE dead_letter_id = %s ORDER BY id", (old,))]
    assert actions == [(old, "discarded"), (old, "retention_purged")]
    with pytest.raises(NotFound):
        deadletters.show(old)


def test_filters_select_by_kind_reason_brand_country_and_age(db):
    a = _record(uuid.uuid4(), reason="customer_not_found", brand="ACME", country="es")
    b = _record(uuid.uuid4(), reason="email_in_use", brand="globex", country="FR")
    c = _record(uuid.uuid4(), kind="notification", reason="invalid_payload")
    with transaction() as tx:
        tx.execute("UPDATE dead_letters SET created_at = now() - interval '3 hours'"
                   " WHERE id = %s", (a,))

    def ids(**kw):
        return {r["id"] for r in deadletters.find(Filters(**kw))}

    from datetime import timedelta
    assert ids() == {a, b, c}
    assert ids(kind="email_change") == {a, b}
    assert ids(reason="email_in_use") == {b}
    assert ids(brand="acme", country="ES") == {a}
    assert ids(older_than=timedelta(hours=1)) == {a}
    assert ids(newer_than=timedelta(hours=1)) == {b, c}
    assert ids(state="replayed") == set()
    assert len(deadletters.find(Filters(limit=2))) == 2


def test_stats_and_status_section(dead_canaries):
    (_, one), _ = dead_canaries(2)
    _record(uuid.uuid4(), reason="email_in_use")
    deadletters.discard([one], by="ana")
    stats = deadletters.stats()
    assert stats["open_total"] == 2 and stats["by_state"]["discarded"] == 1
    assert stats["open_by_kind"] == {"canary": 1, "email_change": 1}
    assert stats["oldest_open_age_s"] is not None
    from relay import status
    section = status.collect()["dead_letters"]
    assert section["open"] == 2 and section["open_by_kind"] == {"canary": 1, "email_change": 1}
