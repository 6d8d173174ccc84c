"""relay status's homeria section, reconciliation, and `relay sync show`."""

from __future__ import annotations

import json

from relay.bootstrap import load_features
from relay.status import collect
from sync_worker import enqueue_email_change, service
from sync_worker.reconcile import reconcile
from tests.support import run_cli


def _synced(n: int) -> str:
    cid = enqueue_email_change(f"C-{n}", f"c{n}@example.com", f"c{n}.new@example.com",
                               "acme", "ES").change_id
    assert service.deliver(cid) == "synced"
    return cid


def test_status_section_shows_breaker_rate_limit_and_counts(sync_rt):
    _synced(1)
    sync_rt.breaker.record_failure("server_error")
    load_features()
    section = collect()["homeria"]
    assert section["breaker"]["state"] == "closed"
    assert section["breaker"]["consecutive_failures"] == 1
    assert section["rate_limit"]["max_rps"] == 0
    assert section["email_changes"] == {"pending": 0, "in_flight": 0, "synced": 1,
                                        "superseded": 0, "dead": 0}


def test_reconcile_counts_matched_and_missing(sync_rt, homeria):
    for n in (1, 2, 3):
        _synced(n)
    assert reconcile(sample=10)["matched"] == 3
    # when Homeria loses one customer's new email
    homeria.state.reset()
    homeria.state.seed("acme", "ES", "c1.new@example.com", "HC-acme-ES-1")
    homeria.state.seed("acme", "ES", "c2.new@example.com", "HC-OTHER")
    doc = reconcile(sample=10)
    assert (doc["matched"], doc["mismatched"], doc["missing"]) == (1, 1, 1)
    load_features()
    assert collect()["homeria"]["reconciliation"]["missing"] == 1


def test_sync_show_prints_state_and_attempts_without_emails(sync_rt, relay_env):
    cid = _synced(4)
    result = run_cli(["sync", "show", str(cid), "--json"], relay_env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["state"] == "synced" and len(doc["attempts"]) == 1
    assert "c4.new@example.com" not in result.stdout
