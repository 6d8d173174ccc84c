"""Reconciliation of every synced field, and `--repair` through the normal path."""

from __future__ import annotations

import json

from standins.homeria_profiles import set_profile
from sync_worker import enqueue_email_change, enqueue_profile_change, profile_service, service
from sync_worker.reconcile import reconcile
from tests.support import run_cli


def _sync_customer(n: int) -> None:
    email = enqueue_email_change(f"C-{n}", f"c{n}@example.com", f"c{n}.new@example.com",
                                 "acme", "ES")
    profile = enqueue_profile_change(f"C-{n}", f"c{n}.new@example.com", "acme", "ES",
                                     {"phone": f"+3460000000{n}", "last_name": f"Ruiz{n}"})
    assert service.deliver(email.change_id) == "synced"
    assert profile_service.deliver(profile.change_id) == "synced"


def _lose_email(homeria, n: int) -> None:
    """Homeria goes back to the customer's old email (a restore from backup, say)."""
    state = homeria.state
    with state._lock:
        customer = state._customers.pop(state._key("acme", "ES", f"c{n}.new@example.com"))
        customer.email = f"c{n}@example.com"
        state._customers[state._key("acme", "ES", customer.email)] = customer


def _deliver_everything() -> None:
    from relay.db import connection

    with connection() as conn:
        rows = conn.execute("SELECT entity_id, kind FROM outbox WHERE done_at IS NULL"
                            " ORDER BY created_at").fetchall()
        conn.commit()
    for _ in range(3):
        for r in rows:
            (service if r["kind"] == "email_change" else profile_service).deliver(
                r["entity_id"])


def test_every_synced_field_is_measured_and_drift_is_repaired(sync_rt, homeria):
    for n in (1, 2, 3):
        _sync_customer(n)
    clean = reconcile(sample=10)
    assert (clean["checked"], clean["matched"], clean["consistency"]) == (3, 3, 1.0)
    assert clean["meets_target"] is True
    # when Homeria drifts: one phone changed behind relay's back, one email lost
    set_profile(homeria.state, "acme", "ES", "c1.new@example.com", phone="+34699999999")
    _lose_email(homeria, 2)
    drifted = reconcile(sample=10, repair=True)
    # then the report names the fields, misses the target, and says what it re-sent
    assert (drifted["matched"], drifted["mismatched"], drifted["missing"]) == (1, 1, 1)
    assert drifted["drift_by_field"] == {"phone": 1, "email": 1}
    assert drifted["consistency"] == round(1 / 3, 4) and drifted["meets_target"] is False
    fixed = {r["customer_id"]: r for r in drifted["repaired"]}
    assert fixed["C-1"]["fields"] == ["phone"] and len(fixed["C-1"]["change_ids"]) == 1
    assert fixed["C-2"]["fields"] == ["email"] and len(fixed["C-2"]["change_ids"]) == 2
    # and once the repairs went the normal way, everything is consistent again
    _deliver_everything()
    assert homeria.state.lookup("acme", "ES", "c1.new@example.com").phone == "+34600000001"
    assert homeria.state.lookup("acme", "ES", "c2.new@example.com").customer_ref == \
        "HC-acme-ES-2"
    after = reconcile(sample=10)
    assert (after["checked"], after["matched"]) == (3, 3), after


def test_reconcile_all_via_the_cli_reports_and_exits_1_on_drift(sync_rt, homeria, relay_env):
    from tests.integration.sync.helpers import homeria_env

    for n in (1, 2):
        _sync_customer(n)
    set_profile(homeria.state, "acme", "ES", "c2.new@example.com", last_name=None)
    env = {**relay_env, **homeria_env(homeria.url)}
    result = run_cli(["sync", "reconcile", "--all", "--json"], env)
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["scope"] == "all" and doc["checked"] == 2
    assert doc["drift_by_field"] == {"last_name": 1} and doc["repaired"] == []
