"""Replaying dead letters against a Homeria that keeps its answers per Idempotency-Key
(docs/contracts/homeria.md, Idempotency): a replayed change goes under a fresh key when its key
holds a permanent answer, and is still applied at most once when an answer was lost."""

from __future__ import annotations

import json

import pytest

from sync_worker import enqueue_email_change
from tests.integration.sync.helpers import change, changes, dead_letters
from tests.support import run_cli, wait_until

pytestmark = pytest.mark.e2e


def _late(n: int):
    return enqueue_email_change(f"L-{n}", f"late{n}@example.com", f"late{n}.new@example.com",
                                "acme", "ES").change_id


def _states(ids) -> set[str]:
    return {r["state"] for r in changes(ids)}


def test_dlq_replay_all_applies_changes_whose_customers_were_created_since(
        homeria, sync_worker, relay_env):
    # given ten changes dead-lettered customer_not_found (Homeria keeps each 404 per key)
    sync_worker()
    ids = [_late(n) for n in range(1, 11)]
    wait_until(lambda: _states(ids) == {"dead"}, timeout=20, message="ten dead letters")
    assert {d["reason"] for d in dead_letters()} == {"customer_not_found"}
    # when the customers are created and on-call replays every dead letter
    for n in range(1, 11):
        homeria.state.seed("acme", "ES", f"late{n}@example.com", f"HC-LATE-{n}")
    result = run_cli(["dlq", "replay", "--all", "--yes", "--json"], relay_env, timeout=90)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["counts"]["replayed"] == 10
    # then the command reports ten delivered (it waits for the outcomes)
    assert doc["outcomes"] == {"delivered": 10, "dead_again": 0, "pending": 0, "finished": 0}
    assert {r["after"]["state"] for r in doc["results"]} == {"synced"}
    # and Homeria applied all ten, each once, under a key other than the 404's
    assert _states(ids) == {"synced"}
    applied = homeria.state.applied_by_change()
    assert applied == {str(i): 1 for i in ids}
    for record in homeria.state.applied_changes:
        assert record["idempotency_key"] != record["change_id"]
    for n in range(1, 11):
        assert homeria.state.lookup("acme", "ES", f"late{n}.new@example.com").customer_ref \
            == f"HC-LATE-{n}"


def test_a_change_whose_answers_were_lost_until_it_gave_up_is_applied_once_on_replay(
        homeria, sync_worker, relay_env):
    # given Homeria applies the change but every answer is lost, until relay gives up
    homeria.faults.update(drop_after_apply_rate=1.0)
    sync_worker(HOMERIA_RETRY_GIVE_UP_SECONDS="1", HOMERIA_BREAKER_THRESHOLD="1000")
    a = enqueue_email_change("C-3", "c3@example.com", "c3.new@example.com", "acme",
                             "ES").change_id
    wait_until(lambda: change(a)["state"] == "dead", timeout=30, message="dead max_age")
    assert [d["reason"] for d in dead_letters()] == ["max_age"]
    assert homeria.state.applied_by_change() == {str(a): 1}
    # when the answers come back and on-call replays it
    homeria.faults.update(drop_after_apply_rate=0)
    result = run_cli(["dlq", "replay", "--all", "--yes"], relay_env, timeout=90)
    assert result.returncode == 0, result.stderr
    assert "1 delivered, 0 dead-lettered again, 0 still pending" in result.stdout
    # then it is synced from the kept 200 under its own key, and applied only once
    assert change(a)["state"] == "synced"
    assert homeria.state.applied_by_change() == {str(a): 1}
    last = homeria.requests("/v1/customer-email-changes")[-1]
    assert last.headers["Idempotency-Key"] == str(a)
    assert last.json()["change_id"] == str(a) and not last.dropped


def test_dlq_replay_reports_a_change_dead_lettered_again_with_its_reason(
        homeria, sync_worker, relay_env):
    sync_worker()
    a = _late(11)
    wait_until(lambda: change(a)["state"] == "dead", timeout=20, message="dead")
    # replayed while the customer still does not exist
    result = run_cli(["dlq", "replay", "--all", "--yes"], relay_env, timeout=90)
    assert result.returncode == 0, result.stderr
    assert "0 delivered, 1 dead-lettered again (customer_not_found\u00d71), 0 still pending" \
        in result.stdout, result.stdout
    assert "dead-lettered again" in result.stdout.split("after")[0]
