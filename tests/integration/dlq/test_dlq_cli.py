"""`relay dlq ...` as on-call runs it: a subprocess, real PostgreSQL, Redis and a worker."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from relay import canary, deadletters
from relay.db import transaction
from tests.support import run_cli, wait_until
from tests.support.rows import fetch

ADDRESS = "ana.s@example.com"
ANY_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def _json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # exactly one JSON document, nothing else


def _canary_done(canary_id) -> bool:
    return canary.get(canary_id)["done_at"] is not None


# -- list / show / stats ---------------------------------------------------------------

def test_list_filters_and_json(relay_env, dead_canaries):
    (_, a), = dead_canaries(1, reason="customer_not_found", brand="acme", country="ES")
    (_, b), = dead_canaries(1, reason="email_in_use", brand="globex", country="FR")
    with transaction() as tx:
        tx.execute("UPDATE dead_letters SET created_at = now() - interval '2 hours'"
                   " WHERE id = %s", (a,))
        deadletters.record(tx, kind="notification", entity_id=uuid.uuid4(),
                           reason="invalid_payload")

    def ids(*args):
        doc = _json(run_cli(["dlq", "list", "--json", *args], relay_env))
        assert doc["count"] == len(doc["dead_letters"])
        return {r["id"] for r in doc["dead_letters"]}

    assert len(ids()) == 3
    assert ids("--task", "canary") == {a, b}
    assert ids("--task", "canary", "--reason", "email_in_use") == {b}
    assert ids("--brand", "acme", "--country", "ES") == {a}
    assert ids("--older-than", "1h") == {a}
    assert ids("--newer-than", "1h", "--task", "canary") == {b}
    assert ids("--state", "replayed") == set()
    assert len(ids("--limit", "1")) == 1
    human = run_cli(["dlq", "list", "--task", "canary"], relay_env)
    assert human.returncode == 0 and "email_in_use" in human.stdout


def test_show_has_history_and_audit_and_never_an_email_address(relay_env, dead_canary):
    error = f"Homeria 404: no customer with email {ADDRESS} (phone +34600000123)"
    _, dl_id = dead_canary(reason="customer_not_found", status_code=404, error=error,
                           response_excerpt=json.dumps({"detail": f"{ADDRESS} unknown"}))
    deadletters.discard([dl_id], by="ana", why=f"asked by {ADDRESS}")
    doc = _json(run_cli(["dlq", "show", str(dl_id), "--json"], relay_env))
    assert doc["id"] == dl_id and doc["reason"] == "customer_not_found"
    assert [a["outcome"] for a in doc["attempts_history"]] == ["failed"]
    assert [e["action"] for e in doc["events"]] == ["discarded"]
    assert "a***@example.com" in doc["error"]
    outputs = [run_cli(["dlq", "show", str(dl_id)], relay_env, timeout=60)]
    outputs.append(run_cli(["dlq", "show", str(dl_id), "--json"], relay_env))
    outputs.append(run_cli(["dlq", "list", "--state", "all"], relay_env))
    outputs.append(run_cli(["dlq", "list", "--state", "all", "--json"], relay_env))
    for out in outputs:
        assert out.returncode == 0, out.stderr
        text = out.stdout + out.stderr
        assert ADDRESS not in text and "+34600000123" not in text
        assert not ANY_EMAIL.search(text), ANY_EMAIL.search(text)


def test_show_unknown_id_exits_1(relay_env):
    result = run_cli(["dlq", "show", "999999"], relay_env)
    assert result.returncode == 1 and "no dead letter 999999" in result.stderr


def test_stats_json(relay_env, dead_canaries):
    _, (_, second) = dead_canaries(2)
    deadletters.discard([second], by="ana")
    doc = _json(run_cli(["dlq", "stats", "--json"], relay_env))
    assert doc["open_total"] == 1 and doc["by_state"] == {
        "open": 1, "replayed": 0, "discarded": 1}
    assert doc["open_by_kind"] == {"canary": 1} and doc["oldest_open_age_s"] >= 0
    assert run_cli(["dlq", "stats"], relay_env).returncode == 0


# -- bad input -------------------------------------------------------------------------

@pytest.mark.parametrize("args, names", [
    (["list", "--older-than", "3x"], "--older-than"),
    (["list", "--newer-than", "yesterday"], "--newer-than"),
    (["list", "--state", "lost"], "--state"),
    (["replay", "1", "--all"], "ID/--all"),
    (["replay"], "ID/--all"),
    (["discard"], "ID/--all"),
    (["replay", "1", "--task", "canary"], "--all"),
    (["replay", "--all", "--older-than", "3x", "--yes"], "--older-than"),
])
def test_bad_arguments_exit_2_naming_the_option(relay_env, args, names):
    result = run_cli(["dlq", *args], relay_env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert names in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bulk_without_yes_and_without_a_terminal_refuses(relay_env, dead_canaries):
    dead_canaries(3)
    result = run_cli(["dlq", "replay", "--all"], relay_env)
    assert result.returncode == 2
    assert "--yes" in result.stderr and "not a terminal" in result.stderr
    assert {r["state"] for r in fetch("SELECT state FROM dead_letters")} == {"open"}


def test_every_command_help_has_an_example(relay_env):
    for cmd in ("list", "show", "replay", "discard", "stats", "purge"):
        result = run_cli(["dlq", cmd, "--help"], relay_env)
        assert result.returncode == 0 and "Example" in result.stdout, cmd


# -- replay / discard ------------------------------------------------------------------

@pytest.mark.e2e
def test_replayed_canary_is_delivered_by_a_real_worker_and_replaying_twice_is_harmless(
        relay_env, start_worker, dead_canary):
    # given a dead-lettered canary and a live worker
    canary_id, dl_id = dead_canary()
    start_worker("maintenance")
    # when on-call replays it
    first = run_cli(["dlq", "replay", str(dl_id), "--by", "ana", "--why", "INC-7"], relay_env)
    assert first.returncode == 0, first.stderr
    # then it goes through the normal path and ends done, exactly once, as the CLI says
    assert "1 delivered" in first.stdout, first.stdout
    wait_until(lambda: _canary_done(canary_id), timeout=30, message="canary done")
    # and replaying it again changes nothing
    second = run_cli(["dlq", "replay", str(dl_id), "--json"], relay_env)
    doc = _json(second)
    assert doc["counts"] == {"skipped": 1}
    assert "already replayed" in doc["results"][0]["message"]
    (row,) = fetch("SELECT * FROM dead_letters WHERE id = %s", (dl_id,))
    assert (row["state"], row["replay_count"], row["resolved_by"]) == ("replayed", 1, "ana")
    assert canary.get(canary_id)["effects"] == 1
    events = fetch("SELECT action, \"by\", note FROM dead_letter_events")
    assert events == [{"action": "replayed", "by": "ana", "note": "INC-7"}]


def test_by_defaults_to_user(relay_env, dead_canary):
    _, dl_id = dead_canary()
    result = run_cli(["dlq", "discard", str(dl_id)], dict(relay_env, USER="oncall-bo"))
    assert result.returncode == 0, result.stderr
    assert fetch("SELECT \"by\" FROM dead_letter_events")[0]["by"] == "oncall-bo"


def test_discard_all_with_filters_keeps_rows_and_audit(relay_env, dead_canaries):
    dead_canaries(2, reason="invalid_payload")
    (_, keep), = dead_canaries(1, reason="max_attempts")
    dry = _json(run_cli(["dlq", "discard", "--all", "--reason", "invalid_payload",
                         "--dry-run", "--json"], relay_env))
    assert dry["counts"] == {"would_discard": 2}
    assert len(fetch("SELECT * FROM dead_letter_events")) == 0
    result = run_cli(["dlq", "discard", "--all", "--reason", "invalid_payload", "--yes",
                      "--by", "ana", "--why", "bad import"], relay_env)
    assert result.returncode == 0, result.stderr
    states = {r["id"]: r["state"] for r in fetch("SELECT id, state FROM dead_letters")}
    assert sorted(states.values()) == ["discarded", "discarded", "open"]
    assert states[keep] == "open"
    events = fetch("SELECT * FROM dead_letter_events")
    assert len(events) == 2
    assert {(e["action"], e["by"], e["note"]) for e in events} == {
        ("discarded", "ana", "bad import")}


def test_replay_unknown_id_exits_1(relay_env, dead_canary):
    _, dl_id = dead_canary()
    result = run_cli(["dlq", "replay", str(dl_id), "424242", "--no-wait"], relay_env)
    assert result.returncode == 1 and "no dead letter 424242" in result.stderr
    assert fetch("SELECT state FROM dead_letters")[0]["state"] == "replayed"


@pytest.mark.e2e
def test_bulk_replay_of_1000_dead_letters(relay_env, start_worker, dead_canaries):
    # given 1,000 dead-lettered canaries
    dead = dead_canaries(1000)
    # when on-call replays them all in one command
    started = time.perf_counter()
    result = run_cli(["dlq", "replay", "--all", "--yes", "--json", "--why", "bulk",
                      "--no-wait"], relay_env, timeout=300)
    elapsed = time.perf_counter() - started
    doc = _json(result)
    print(f"\nbulk replay of 1000 dead letters: {elapsed:.2f} s wall (CLI subprocess), "
          f"{doc['elapsed_s']:.2f} s inside replay")
    # then every one is replayed and audited
    assert doc["counts"] == {"replayed": 1000}
    assert fetch("SELECT count(*) AS n FROM dead_letters WHERE state = 'replayed'")[0][
        "n"] == 1000
    assert fetch("SELECT count(*) AS n FROM dead_letter_events")[0]["n"] == 1000
    # and a worker delivers all of them through the normal path
    start_worker("maintenance", concurrency=8)
    ids = [cid for cid, _ in dead]
    wait_until(lambda: fetch("SELECT count(*) AS n FROM canaries WHERE done_at IS NOT NULL"
                             " AND id = ANY(%s)", (ids,))[0]["n"] == 1000,
               timeout=120, interval=0.5, message="1000 canaries done")
    assert fetch("SELECT max(effects) AS m FROM canaries")[0]["m"] == 1


def test_replay_waits_a_bounded_time_and_reports_what_is_still_pending(relay_env,
                                                                        dead_canaries):
    # given two dead canaries and no worker to run them
    dead_canaries(2)
    # when on-call replays them, waiting at most one second
    started = time.perf_counter()
    result = run_cli(["dlq", "replay", "--all", "--yes", "--wait", "1", "--json"], relay_env)
    # then the command returns after about that long and says both are still pending
    assert time.perf_counter() - started < 15
    doc = _json(result)
    assert doc["outcomes"] == {"delivered": 0, "dead_again": 0, "pending": 2, "finished": 0}
    assert {r["after"]["outcome"] for r in doc["results"]} == {"pending"}
    assert doc["waited_s"] >= 1.0
    human = run_cli(["dlq", "replay", "--all", "--yes", "--wait", "0"], relay_env)
    assert human.returncode == 0 and "no open dead letters match" in human.stdout
