"""Profile changes in-process against the strict stand-in: validation, idempotency, one
order per customer shared with email changes, field-by-field merging, dead letters and
replay under a fresh key, retries."""

from __future__ import annotations

import json

import pytest

from relay import deadletters
from relay.db import connection
from relay.errors import InvalidInput
from sync_worker import enqueue_email_change, enqueue_profile_change, profile_service, service
from tests.support.rows import table_count

ADDRESS = {"line1": "Calle Mayor 1", "line2": None, "city": "Madrid",
           "postal_code": "28013", "country": "ES"}


def _profile(email="c1@example.com", n=1, **changes):
    return enqueue_profile_change(f"C-{n}", email, "acme", "ES", changes).change_id


def _row(change_id) -> dict:
    with connection() as conn:
        row = conn.execute("SELECT * FROM profile_changes WHERE id = %s",
                           (change_id,)).fetchone()
        conn.commit()
    return row


def _posts(homeria, path="/v1/customer-profile-changes"):
    return [r for r in homeria.requests(path) if r.method == "POST"]


def test_a_profile_change_reaches_homeria_and_reads_back(sync_rt, homeria):
    cid = _profile(phone="+34 600 000 111", first_name="Ana", address=ADDRESS)
    assert profile_service.deliver(cid) == "synced"
    (post,) = _posts(homeria)
    body = json.loads(post.body)
    assert post.headers["Idempotency-Key"] == str(cid) == body["change_id"]
    assert body["changes"] == {"phone": "+34600000111", "first_name": "Ana",
                               "address": ADDRESS}
    found = sync_rt.client.get_customer("c1@example.com", "acme", "ES")
    assert found.profile == {"phone": "+34600000111", "first_name": "Ana", "address": ADDRESS}
    # a field set to None is cleared
    assert profile_service.deliver(_profile(phone=None)) == "synced"
    assert "phone" not in sync_rt.client.get_customer("c1@example.com", "acme", "ES").profile


@pytest.mark.parametrize(("changes", "field"), [
    ({"phone": "600000111"}, "changes.phone"),
    ({"phone": "+34 12"}, "changes.phone"),
    ({"first_name": "x" * 101}, "changes.first_name"),
    ({"address": {**ADDRESS, "country": "XX"}}, "changes.address.country"),
    ({"nickname": "Ana"}, "changes.nickname"),
    ({}, "changes"),
])
def test_bad_input_is_refused_before_any_write(db, changes, field):
    with pytest.raises(InvalidInput) as exc:
        enqueue_profile_change("C-1", "c1@example.com", "acme", "ES", changes)
    assert exc.value.field == field
    assert "600000111" not in str(exc.value)
    assert table_count("profile_changes") == 0 and table_count("outbox") == 0


def test_a_repeated_request_id_returns_the_first_receipt(db, broker):
    first = enqueue_profile_change("C-1", "c1@example.com", "acme", "ES",
                                   {"last_name": "Ruiz"}, request_id="t-1")
    again = enqueue_profile_change("C-1", "c1@example.com", "acme", "ES",
                                   {"last_name": "Other"}, request_id="t-1")
    assert again.change_id == first.change_id and again.duplicate
    assert table_count("profile_changes") == 1


def test_email_and_profile_changes_of_a_customer_arrive_in_the_order_made(sync_rt, homeria):
    # given an email change, a phone change made after it (by a caller that still knew
    # the old email), and a second email change
    e1 = enqueue_email_change("C-1", "c1@example.com", "x@example.com", "acme", "ES")
    p1 = _profile("c1@example.com", phone="+34600000222")
    e2 = enqueue_email_change("C-1", "x@example.com", "y@example.com", "acme", "ES")
    # the profile change goes with the email Homeria will hold at its turn
    assert _row(p1)["email"] == "x@example.com"
    # when every message is processed, later ones first
    assert service.deliver(e2.change_id) == "waiting"
    assert profile_service.deliver(p1) == "waiting"
    assert service.deliver(e1.change_id) == "synced"   # not merged past the phone change
    assert profile_service.deliver(p1) == "synced"
    assert service.deliver(e2.change_id) == "synced"
    # then Homeria applied them in that order and holds all of it
    applied = homeria.state.applied_changes
    assert [a.get("kind", "email") for a in applied] == ["email", "profile", "email"]
    assert applied[1]["email"] == "x@example.com"
    assert homeria.state.lookup("acme", "ES", "y@example.com").phone == "+34600000222"


def test_waiting_profile_changes_merge_field_by_field(sync_rt, homeria):
    e1 = enqueue_email_change("C-1", "c1@example.com", "x@example.com", "acme", "ES")
    p1 = _profile(phone="+34600000001", first_name="Ana")
    p2 = _profile(last_name="Ruiz")
    p3 = _profile(phone="+34600000003", first_name=None)
    assert service.deliver(e1.change_id) == "synced"
    assert profile_service.deliver(p1) == "synced"
    (post,) = _posts(homeria)
    body = json.loads(post.body)
    assert body["change_id"] == str(p3) and body["email"] == "x@example.com"
    assert body["changes"] == {"phone": "+34600000003", "first_name": None,
                               "last_name": "Ruiz"}
    assert _row(p1)["state"] == _row(p2)["state"] == "superseded"
    assert _row(p1)["carried_by"] == p3 and _row(p3)["carried_count"] == 2
    assert {profile_service.deliver(x) for x in (p1, p2, p3)} == {"finished"}


def test_a_dead_letter_replayed_goes_under_a_fresh_key_and_applies_once(sync_rt, homeria):
    # given a change for a customer Homeria does not know yet: 404, dead letter
    cid = _profile("new@example.com", n=7, last_name="Nueva")
    assert profile_service.deliver(cid) == "dead"
    (letter,) = deadletters.find()
    assert letter["kind"] == "profile_change" and letter["reason"] == "customer_not_found"
    # when the customer is created and on-call replays it
    homeria.state.seed("acme", "ES", "new@example.com")
    (result,) = deadletters.replay([letter["id"]], by="oncall")
    assert result.outcome == "replayed"
    assert profile_service.deliver(cid) == "synced"
    # then the second delivery used a new key (the first still answers its 404)
    first, second = _posts(homeria)
    assert first.headers["Idempotency-Key"] == str(cid)
    assert second.headers["Idempotency-Key"] not in {str(cid), first.headers["Idempotency-Key"]}
    assert first.body == second.body
    assert homeria.state.lookup("acme", "ES", "new@example.com").last_name == "Nueva"
    assert profile_service.deliver(cid) == "finished"


def test_transient_failures_are_retried_with_the_same_key(sync_rt, homeria):
    homeria.faults.update(error_rate=1.0, error_status=503)
    cid = _profile(first_name="Ana")
    assert profile_service.deliver(cid).startswith("retry_")
    homeria.faults.reset()

    def attempt():
        return profile_service.deliver(cid) == "synced"
    from tests.support import wait_until

    wait_until(attempt, timeout=5, message="synced after the outage")
    keys = {r.headers["Idempotency-Key"] for r in _posts(homeria)}
    assert keys == {str(cid)} and _row(cid)["failures"] >= 1


def test_the_cli_queues_a_profile_change_and_names_bad_fields(relay_env):
    from tests.support import run_cli

    base = ["enqueue", "profile-change", "--customer-id", "C-1", "--email", "c1@example.com",
            "--brand", "acme", "--country", "ES"]
    ok = run_cli([*base, "--phone", "+34600000123", "--clear", "last_name", "--address",
                  json.dumps(ADDRESS), "--request-id", "t-9", "--json"], relay_env)
    assert ok.returncode == 0, ok.stderr
    receipt = json.loads(ok.stdout)
    row = _row(receipt["change_id"])
    assert row["changes"] == {"phone": "+34600000123", "last_name": None, "address": ADDRESS}
    bad = run_cli([*base, "--phone", "+3412"], relay_env)
    assert bad.returncode == 2 and "changes.phone" in bad.stderr
    assert table_count("profile_changes") == 1


def test_a_change_that_gave_up_on_timeouts_is_replayed_under_its_own_key(sync_rt, homeria):
    # given a change dead after transient failures (its give-up age reached at once)
    homeria.faults.update(error_rate=1.0, error_status=503)
    cid = _profile(first_name="Ana")
    with connection() as conn:   # it has been failing for two days
        conn.execute("UPDATE profile_changes SET first_failure_at = now() - interval '2 days'"
                     " WHERE id = %s", (cid,))
        conn.commit()
    assert profile_service.deliver(cid) == "dead"
    homeria.faults.reset()
    (letter,) = deadletters.find()
    assert letter["reason"] == "max_age"
    deadletters.replay([letter["id"]], by="oncall")
    assert profile_service.deliver(cid) == "synced"
    assert {r.headers["Idempotency-Key"] for r in _posts(homeria)} == {str(cid)}


def test_sync_show_names_the_fields_of_a_profile_change_not_their_values(sync_rt, homeria,
                                                                         relay_env):
    from tests.support import run_cli

    cid = _profile(phone="+34600000123", last_name="Ruiz")
    assert profile_service.deliver(cid) == "synced"
    result = run_cli(["sync", "show", str(cid), "--json"], relay_env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["kind"] == "profile_change" and doc["state"] == "synced"
    assert doc["fields"] == ["last_name", "phone"] and doc["email"] == "c***@example.com"
    assert "Ruiz" not in result.stdout and "600000123" not in result.stdout
    assert [a["outcome"] for a in doc["attempts"]] == ["synced"]
