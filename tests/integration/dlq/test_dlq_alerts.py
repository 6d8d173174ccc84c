"""On-call alerts through the webhook stand-in: one post per window, then ONE summary."""

from __future__ import annotations

import threading
import uuid

from relay import alerts, deadletters
from relay.db import transaction
from relay.settings import reset_settings_cache
from tests.support import free_port, wait_until
from tests.support.rows import fetch


def _die(reason: str, kind: str = "email_change") -> None:
    with transaction() as tx:
        deadletters.record(tx, kind=kind, entity_id=uuid.uuid4(), reason=reason,
                           error="customer ana@example.com not found", status_code=404)


def test_a_burst_of_50_dead_letters_sends_one_post_then_one_summary(webhook):
    # given 50 dead letters within a second, from 10 threads (as from many workers)
    reasons = ["customer_not_found"] * 30 + ["email_in_use"] * 20
    chunks = [reasons[i::10] for i in range(10)]
    threads = [threading.Thread(target=lambda c=c: [_die(r) for r in c]) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then exactly one post went out at once
    assert len(fetch("SELECT * FROM dead_letters")) == 50
    assert len(webhook.state.posts()) == 1
    first = webhook.state.posts()[0]
    assert "Dead letter: email_change" in first["text"] and first["blocks"]
    # and flushing before the window closes sends nothing
    assert alerts.flush_due() == 0
    # when the window closes, the beat's flush sends ONE summary with the counts
    wait_until(lambda: alerts.flush_due(), timeout=10, interval=0.2, message="summary sent")
    posts = webhook.state.posts()
    assert len(posts) == 2
    summary = posts[1]["text"]
    first_reason = "customer_not_found" if "customer_not_found" in first["text"] else (
        "email_in_use")
    counts = {"customer_not_found": 30, "email_in_use": 20}
    counts[first_reason] -= 1
    assert "49 more email_change dead letters in the last 2 s" in summary
    for reason, n in counts.items():
        assert f"{reason}{alerts.TIMES}{n}" in summary
    # and nothing is left to flush
    assert alerts.flush_due() == 0
    for post in posts:
        assert "ana@example.com" not in str(post)


def test_the_first_alert_after_the_window_carries_the_summary(webhook):
    for _ in range(3):
        _die("email_in_use")
    assert len(webhook.state.posts()) == 1
    wait_until(lambda: fetch("SELECT clock_timestamp() >= window_ends_at AS closed"
                             " FROM alert_windows")[0]["closed"], timeout=10,
               message="window closed")
    _die("customer_not_found")
    texts = webhook.state.texts()
    assert len(texts) == 3
    assert f"2 more email_change dead letters in the last 2 s: email_in_use{alerts.TIMES}2" \
        in texts[1]
    assert "customer_not_found" in texts[2]


def test_alert_keys_are_limited_separately(webhook):
    _die("max_attempts", kind="email_change")
    _die("max_attempts", kind="notification")
    _die("max_attempts", kind="notification")
    assert len(webhook.state.posts()) == 2


def test_an_unreachable_webhook_is_logged_not_raised(db, monkeypatch):
    port = free_port()
    monkeypatch.setenv("ONCALL_WEBHOOK_URL", f"http://127.0.0.1:{port}/hook")
    reset_settings_cache()
    try:
        assert alerts.alert("sla.breach", "SLA breach", "3 late") == "failed"
        _die("email_in_use")  # the dead letter is still recorded
        assert len(fetch("SELECT * FROM dead_letters")) == 1
    finally:
        reset_settings_cache()


def test_without_a_webhook_alerts_only_log(db, monkeypatch):
    monkeypatch.delenv("ONCALL_WEBHOOK_URL", raising=False)
    reset_settings_cache()
    assert alerts.alert("sla.breach", "SLA breach", "3 late") == "logged"
    assert alerts.flush_due() == 0


def test_a_rejecting_webhook_counts_as_failed(webhook):
    webhook.faults.update(error_rate=1.0, error_status=500)
    assert alerts.alert("sla.breach", "SLA breach", "3 late") == "failed"


def test_plain_http_to_a_remote_host_is_refused_before_any_request(db):
    assert alerts._post("http://hooks.example.com/services/x", {"text": "hi"}) is False
