"""The send path in-process against real stand-ins: content, fallback, retries, claims,
promotions, in-app, dead letters."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from notifications import policy, record_order_event, service
from notifications.compose import compose
from relay.db import connection
from tests.integration.notifications.conftest import drain, event, rows
from tests.support import run_cli


def test_an_order_email_carries_the_order_number_and_tracking_link(wired):
    doc = event("shipped")
    record_order_event(doc)
    assert drain() == ["sent"]
    (mail,) = wired["smtp"].messages()
    assert mail.rcpt_tos == ["ana@example.com"]
    assert doc["order_id"] in str(mail.message["Subject"])
    assert doc["order"]["tracking_url"] in mail.part("plain")
    assert "orders@shop.example" in mail.mail_from
    found = rows(doc["event_id"])
    assert found["email"]["state"] == "sent" and found["email"]["sent_at"] is not None
    assert found["email"]["provider_message_id"] == mail.queue_id
    assert (found["sms"]["state"], found["sms"]["reason"]) == ("skipped", "sent_via_email")


def test_events_recorded_in_bulk_are_sent_with_their_content(wired):
    # bulk intake writes events with binary COPY: what the send task reads back must be
    # the same document
    docs = [event("shipped"), event("packed", customer__email="bo@example.com")]
    from notifications import record_order_events

    assert record_order_events(docs).new_events == 2
    assert drain() == ["sent", "sent"]
    mails = {m.rcpt_tos[0]: m for m in wired["smtp"].messages()}
    assert set(mails) == {"ana@example.com", "bo@example.com"}
    assert docs[0]["order"]["tracking_url"] in mails["ana@example.com"].part("plain")
    assert docs[1]["order_id"] in str(mails["bo@example.com"].message["Subject"])


def test_sms_and_push_carry_the_order(wired):
    sms_doc = event("out_for_delivery", customer__channels=["sms"])
    push_doc = event("delivered", customer__channels=["push"])
    record_order_event(sms_doc)
    record_order_event(push_doc)
    assert sorted(drain()) == ["sent", "sent"]
    (text,) = wired["sms"].state.messages()
    assert text.to == "+34600000000" and sms_doc["order_id"] in text.body
    (note,) = wired["push"].state.messages()
    assert note.token == "tok-ana" and note.data["order_id"] == push_doc["order_id"]


def test_a_permanent_email_failure_falls_back_to_sms_at_once(wired):
    doc = event("shipped", customer__email="bounce@example.com")
    record_order_event(doc)
    assert drain() == ["fallback", "sent"]
    (text,) = wired["sms"].state.messages()
    assert doc["order_id"] in text.body
    found = rows(doc["event_id"])
    assert (found["email"]["state"], found["email"]["reason"]) == ("failed", "smtp_550")
    assert found["sms"]["reason"] == "fallback_from_email:smtp_550"


def test_transient_failures_retry_then_fall_back_when_the_budget_is_spent(wired, monkeypatch):
    monkeypatch.setenv("NOTIFY_RETRY_BASE_SECONDS", "0.01")
    wired["smtp"].faults.update(error_rate=1.0, error_status=451)
    doc = event("shipped")
    record_order_event(doc)
    outcomes = drain()
    assert outcomes == ["retry", "retry", "fallback", "sent"]
    found = rows(doc["event_id"])
    assert (found["email"]["state"], found["email"]["reason"]) == ("failed",
                                                                   "attempts_exhausted")
    assert found["email"]["attempts"] == 3 and found["sms"]["state"] == "sent"


def test_a_retry_that_would_miss_the_deadline_falls_back_instead(wired):
    # occurred long ago: the deadline is 2 s away, the first retry would be ~5 s later
    doc = event("shipped", occurred_at=(datetime.now(UTC) - timedelta(seconds=7198)).isoformat())
    wired["smtp"].faults.update(error_rate=1.0, error_status=451)
    record_order_event(doc)
    service.deliver(rows(doc["event_id"])["email"]["id"])
    assert rows(doc["event_id"])["email"]["reason"] == "deadline_at_risk"


def test_last_channel_failing_permanently_opens_a_dead_letter(wired):
    doc = event("packed", customer__email="bounce@example.com", customer__phone="+15005550001")
    record_order_event(doc)
    assert drain() == ["fallback", "dead_letter"]
    with connection() as conn:
        (dead,) = conn.execute("SELECT * FROM dead_letters").fetchall()
        conn.commit()
    assert (dead["kind"], dead["reason"]) == ("notification", "all_channels_failed")
    assert dead["entity_id"] == rows(doc["event_id"])["sms"]["id"]


def test_a_redelivered_message_sends_once(wired):
    doc = event("shipped")
    (first, _) = record_order_event(doc)
    assert service.deliver(first.id) == "sent"
    assert service.deliver(first.id) == "duplicate"
    assert len(wired["smtp"].messages()) == 1


def test_two_workers_racing_on_one_message_send_once(wired):
    wired["smtp"].faults.update(latency_ms=300)
    (first, _) = record_order_event(event("shipped"))
    outcomes: list[str] = []
    threads = [threading.Thread(target=lambda: outcomes.append(service.deliver(first.id)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["busy", "sent"]
    assert len(wired["smtp"].messages()) == 1


def test_a_worker_that_died_mid_send_leaves_a_claim_that_expires(wired, monkeypatch):
    monkeypatch.setenv("NOTIFY_CLAIM_SECONDS", "0.2")
    (first, _) = record_order_event(event("shipped"))
    claim = service._claim(first.id)  # claimed, then the "worker" vanishes
    assert not isinstance(claim, str)
    assert service.deliver(first.id) == "busy"
    threading.Event().wait(0.3)
    assert service.deliver(first.id) == "sent"
    with connection() as conn:
        outcomes = [r["outcome"] for r in conn.execute(
            "SELECT outcome FROM attempts WHERE entity_id = %s ORDER BY id", (first.id,))]
        conn.commit()
    assert outcomes == ["claim_expired", "sent"]


def test_a_send_that_outlived_its_claim_and_was_also_resent_is_recorded_once(wired, monkeypatch):
    # worker A claims and stalls past its lease, worker B re-claims and sends; then A's
    # provider call is accepted as well: the row stays B's send, A's attempt is recorded
    monkeypatch.setenv("NOTIFY_CLAIM_SECONDS", "0.2")
    doc = event("shipped")
    (first, _) = record_order_event(doc)
    stalled = service._claim(first.id)
    assert not isinstance(stalled, str)
    threading.Event().wait(0.3)
    assert service.deliver(first.id) == "sent"
    sent_by_b = rows(doc["event_id"])["email"]
    accepted = service.channels()["email"].send(
        compose("email", str(first.id), stalled.event))
    now = datetime.now(UTC)
    assert service._sent(stalled, accepted, now, now, 0.0) == "duplicate_send"
    after = rows(doc["event_id"])["email"]
    assert (after["state"], after["sent_at"]) == ("sent", sent_by_b["sent_at"])
    assert after["provider_message_id"] == sent_by_b["provider_message_id"]
    with connection() as conn:
        outcomes = [r["outcome"] for r in conn.execute(
            "SELECT outcome FROM attempts WHERE entity_id = %s ORDER BY id", (first.id,))]
        conn.commit()
    assert outcomes == ["claim_expired", "sent", "sent"]


def test_an_order_update_past_its_expiry_is_suppressed_not_sent(wired):
    # order updates are claimed in one statement only when nothing needs deciding; an
    # event carrying `expires` goes through the row-lock path, which checks it
    past = (datetime.now(UTC) + timedelta(seconds=0.3)).isoformat()
    doc = event("shipped", expires=past)
    record_order_event(doc)
    threading.Event().wait(0.4)
    assert drain() == ["expired"]
    assert rows(doc["event_id"])["email"]["reason"] == "expired"
    assert wired["smtp"].messages() == []


def test_promotion_email_has_one_click_unsubscribe_and_the_promo_sender(wired, monkeypatch):
    monkeypatch.setenv("PROMO_QUIET_HOURS", "off")
    doc = event("promotion")
    record_order_event(doc)
    assert drain() == ["sent"]
    (mail,) = wired["smtp"].messages()
    assert "offers@shop.example" in mail.mail_from
    assert str(mail.message["List-Unsubscribe"]).startswith("<https://shop.example/unsubscribe?")
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_promotions_in_quiet_hours_are_parked_and_order_updates_are_not(wired, monkeypatch):
    hour = datetime.now(policy.country_zone("ES")).hour
    monkeypatch.setenv("PROMO_QUIET_HOURS", f"{hour}-{(hour + 2) % 24}")
    promo, update = event("promotion"), event("shipped")
    record_order_event(promo)
    record_order_event(update)
    assert sorted(drain()) == ["parked", "sent"]
    parked = rows(promo["event_id"])["email"]
    assert (parked["state"], parked["reason"]) == ("pending", "quiet_hours")
    with connection() as conn:
        box = conn.execute("SELECT * FROM outbox WHERE entity_id = %s",
                           (parked["id"],)).fetchone()
        conn.commit()
    assert box["parked_reason"] == "quiet_hours"
    assert box["next_attempt_at"] > datetime.now(UTC) + timedelta(minutes=59)


def test_an_expired_campaign_waiting_in_line_is_dropped_at_send_time(wired, monkeypatch):
    monkeypatch.setenv("PROMO_QUIET_HOURS", "off")
    soon = datetime.now(UTC) + timedelta(seconds=0.3)
    doc = event("promotion", expires=soon.isoformat())
    record_order_event(doc)
    threading.Event().wait(0.4)
    assert drain() == ["expired"]
    assert rows(doc["event_id"])["email"]["reason"] == "expired"
    assert wired["smtp"].messages() == []


def test_in_app_messages_are_readable_with_relay_orders_show(wired, relay_env):
    doc = event("delivered", customer__channels=["inapp"])
    record_order_event(doc)
    assert drain() == ["sent"]
    result = run_cli(["orders", "show", doc["order_id"], "--json"], relay_env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    (inbox,) = shown["inbox"]
    assert doc["order_id"] in inbox["title"] + inbox["body"]
    (note,) = shown["notifications"]
    assert (note["channel"], note["state"]) == ("inapp", "sent")
    assert [a["outcome"] for a in note["attempts_log"]] == ["sent"]
    assert note["on_time"] == "on_time" and shown["events"][0]["on_time"] == "on_time"
    human = run_cli(["orders", "show", doc["order_id"]], relay_env)
    assert human.returncode == 0 and "In-app inbox" in human.stdout
    assert "on_time" in human.stdout
    missing = run_cli(["orders", "show", "SO-nope"], relay_env)
    assert missing.returncode == 1 and "no events" in missing.stderr


def test_replaying_a_dead_letter_sends_again(wired):
    from relay import deadletters

    doc = event("packed", customer__channels=["email"], customer__email="bounce@example.com")
    record_order_event(doc)
    assert drain() == ["dead_letter"]
    wired["smtp"].handler.recipient_rules.clear()  # the mailbox is fixed
    with connection() as conn:
        dead_id = conn.execute("SELECT id FROM dead_letters").fetchone()["id"]
        conn.commit()
    (result,) = deadletters.replay([dead_id], by="test")
    assert result.ok, result.message
    assert drain() == ["sent"]
    assert rows(doc["event_id"])["email"]["state"] == "sent"


def test_status_section_counts_states_and_pending_by_queue(wired):
    from notifications.oncall import status_section

    record_order_event(event("shipped"))
    record_order_event(event("promotion"))
    doc = status_section()
    assert doc["by_state"] == {"pending": 2, "standby": 1, "suppressed": 1}
    assert set(doc["pending_by_queue"]) == {"notify.transactional", "notify.promotions"}
