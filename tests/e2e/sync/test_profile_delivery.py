"""Profile changes through real worker processes: in the customer's one order with email
changes, under a transient-error storm, and a dead letter replayed from the CLI."""

from __future__ import annotations

import json

import pytest

from relay.db import connection
from sync_worker import enqueue_email_change, enqueue_profile_change
from tests.support import run_cli, wait_until
from tests.support.homeria import homeria_env

pytestmark = pytest.mark.e2e


def _states(ids) -> dict:
    with connection() as conn:
        rows = conn.execute(
            """SELECT id, state FROM email_changes WHERE id = ANY(%(ids)s)
               UNION ALL SELECT id, state FROM profile_changes WHERE id = ANY(%(ids)s)""",
            {"ids": list(ids)}).fetchall()
        conn.commit()
    return {r["id"]: r["state"] for r in rows}


def _finished(ids) -> bool:
    states = _states(ids)
    return len(states) == len(ids) and all(
        s in {"synced", "superseded", "dead"} for s in states.values())


def test_email_and_profile_changes_reach_homeria_in_order_and_a_replay_lands(
        homeria, sync_worker, relay_env):
    # given Homeria failing a third of requests, and four worker threads
    homeria.faults.update(error_rate=0.3)
    sync_worker()
    # when three customers each change email, then phone, then email again, and one
    # profile change names a customer Homeria does not know
    ids = []
    for n in (1, 2, 3):
        ids.append(enqueue_email_change(f"C-{n}", f"c{n}@example.com", f"x{n}@example.com",
                                        "acme", "ES").change_id)
        ids.append(enqueue_profile_change(f"C-{n}", f"c{n}@example.com", "acme", "ES",
                                          {"phone": f"+3460000000{n}"}).change_id)
        ids.append(enqueue_email_change(f"C-{n}", f"x{n}@example.com", f"y{n}@example.com",
                                        "acme", "ES").change_id)
    ghost = enqueue_profile_change("C-9", "ghost@example.com", "acme", "ES",
                                   {"first_name": "Eva"}).change_id
    wait_until(lambda: _finished([*ids, ghost]), timeout=40, message="changes finished")
    # then every customer ends on y with the phone, nothing of theirs died
    assert set(_states(ids).values()) == {"synced"}
    for n in (1, 2, 3):
        assert homeria.state.lookup("acme", "ES", f"y{n}@example.com").phone == \
            f"+3460000000{n}"
        kinds = [a.get("kind", "email") for a in homeria.state.applied_changes
                 if a.get("email", a.get("current_email")).endswith(f"{n}@example.com")]
        assert kinds == ["email", "profile", "email"], kinds
    assert _states([ghost]) == {ghost: "dead"}
    # when the customer appears and on-call replays the dead letter
    homeria.faults.reset()
    homeria.state.seed("acme", "ES", "ghost@example.com")
    env = {**relay_env, **homeria_env(homeria.url)}
    replay = run_cli(["dlq", "replay", "--all", "--task", "profile_change", "--yes",
                      "--json"], env)
    assert replay.returncode == 0, replay.stderr
    wait_until(lambda: _states([ghost]) == {ghost: "synced"}, timeout=20,
               message="the replayed change synced")
    assert homeria.state.lookup("acme", "ES", "ghost@example.com").first_name == "Eva"
    report = json.loads(replay.stdout)
    assert "replayed" in json.dumps(report)
    # the outcome report (relay dlq replay waits) names the change's own state
    assert '"synced"' in json.dumps(report) or '"pending"' in json.dumps(report)
