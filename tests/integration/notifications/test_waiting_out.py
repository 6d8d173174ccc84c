"""An outage of every provider is waited out: channels still fall back to each other
quickly, but when all of them have failed transiently the notification goes round them
again after a jittered backoff (parked in its outbox row), until NOTIFY_GIVE_UP_SECONDS.
Only a permanent failure on every channel, or that age, dead-letters it."""

from __future__ import annotations

import pytest

from notifications import record_order_event, service
from relay import outbox
from relay.db import connection
from relay.settings import reset_settings_cache
from tests.support.events import event
from tests.support.notifications import drain, due_ids, rows


@pytest.fixture
def fast_rounds(monkeypatch):
    """Short backoffs so a test can go several rounds in well under a second."""
    for name, value in {"NOTIFY_RETRY_BASE_SECONDS": "0.01", "NOTIFY_RETRY_MAX_SECONDS": "0.05",
                        "NOTIFY_CHANNEL_MAX_ATTEMPTS": "2"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def give_up_after(monkeypatch):
    def set_to(seconds: float) -> None:
        monkeypatch.setenv("NOTIFY_GIVE_UP_SECONDS", str(seconds))
        reset_settings_cache()

    yield set_to
    monkeypatch.delenv("NOTIFY_GIVE_UP_SECONDS", raising=False)
    reset_settings_cache()


def dead_letters() -> list[dict]:
    with connection() as conn:
        found = conn.execute("SELECT * FROM dead_letters ORDER BY id").fetchall()
        conn.commit()
    return found


def sent_anywhere(standins) -> int:
    return (len(standins["smtp"].messages()) + len(standins["sms"].state.messages())
            + len(standins["push"].state.messages()))


def outbox_row(notification_id) -> dict:
    with connection() as conn:
        row = conn.execute("""SELECT *, next_attempt_at - now() AS wait FROM outbox
                              WHERE entity_id = %s""", (notification_id,)).fetchone()
        conn.commit()
    return row


def test_email_451_and_sms_503_keep_retrying_instead_of_dead_lettering(wired, fast_rounds):
    # given: both providers answer "try again later"
    wired["smtp"].faults.update(error_rate=1.0, error_status=451)
    wired["sms"].faults.update(error_rate=1.0, error_status=503)
    doc = event("shipped")
    record_order_event(doc)
    # when: many attempts fail
    outcomes = drain(max_rounds=12)
    # then: it fell back to SMS quickly, then went round again; nothing dead-lettered
    assert outcomes[:3] == ["retry", "fallback", "retry"]
    assert "dead_letter" not in outcomes and dead_letters() == []
    assert outcomes.count("waiting") >= 2, outcomes
    found = rows(doc["event_id"])
    # one channel is due again; the other failed this round or waits its turn
    assert [r["state"] for r in found.values()].count("pending") == 1, found
    assert found["email"]["rounds"] >= 2
    # when: the providers recover
    wired["smtp"].faults.reset()
    wired["sms"].faults.reset()
    drain()
    # then: exactly one message, on one channel; the other is skipped
    assert sent_anywhere(wired) == 1 and dead_letters() == []
    states = [r["state"] for r in rows(doc["event_id"]).values()]
    assert states.count("sent") == 1 and set(states) <= {"sent", "skipped", "failed"}
    assert drain() == [] and sent_anywhere(wired) == 1


def test_a_permanent_failure_leaves_its_channel_out_of_the_next_rounds(wired, fast_rounds):
    wired["smtp"].faults.update(error_rate=1.0, error_status=451)
    doc = event("shipped", customer__phone="+15005550001")   # SMS: invalid number (21211)
    record_order_event(doc)
    outcomes = drain(max_rounds=8)
    assert "dead_letter" not in outcomes and dead_letters() == []
    found = rows(doc["event_id"])
    assert found["sms"]["state"] == "failed" and found["sms"]["attempts"] == 1
    wired["smtp"].faults.reset()
    drain()
    found = rows(doc["event_id"])
    assert (found["email"]["state"], found["sms"]["state"]) == ("sent", "failed")
    assert len(wired["smtp"].messages()) == 1 and wired["sms"].state.messages() == []


def test_every_channel_failing_permanently_still_dead_letters_at_once(wired):
    doc = event("packed", customer__email="bounce@example.com", customer__phone="+15005550001")
    record_order_event(doc)
    assert drain() == ["fallback", "dead_letter"]
    assert [d["reason"] for d in dead_letters()] == ["all_channels_failed"]


def test_past_the_give_up_age_it_dead_letters_max_age(wired, fast_rounds, give_up_after):
    give_up_after(0.3)
    wired["smtp"].faults.update(error_rate=1.0, error_status=451)
    wired["sms"].faults.update(error_rate=1.0, error_status=503)
    doc = event("shipped")
    record_order_event(doc)
    import time
    deadline = time.monotonic() + 10
    while not dead_letters() and time.monotonic() < deadline:
        drain(max_rounds=5)
    (dead,) = dead_letters()
    assert dead["reason"] == "max_age"
    assert sent_anywhere(wired) == 0 and due_ids(within_s=60) == []


def test_a_long_wait_is_parked_in_the_row_not_a_broker_countdown(wired, monkeypatch,
                                                                 redis_client):
    # one attempt per channel, then a round backoff of up to 10 minutes
    monkeypatch.setenv("NOTIFY_CHANNEL_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("NOTIFY_RETRY_BASE_SECONDS", "600")
    monkeypatch.setenv("NOTIFY_RETRY_MAX_SECONDS", "600")
    wired["smtp"].faults.update(error_rate=1.0, error_status=451)
    wired["sms"].faults.update(error_rate=1.0, error_status=503)
    doc = event("shipped")
    (email, sms) = record_order_event(doc)
    assert service.deliver(email.id) == "fallback"
    assert service.deliver(sms.id) == "waiting"
    box = outbox_row(email.id)
    assert box["done_at"] is None and box["parked_reason"] == "waiting_out"
    wait = box["wait"].total_seconds()
    assert 0 <= wait <= 600
    # more than a minute away: nothing handed to the broker, the sweep will publish it
    assert (box["published_at"] is None) == (wait > 60)
    assert rows(doc["event_id"])["email"]["state"] == "pending"
    # when it is due, the sweep publishes it (only the id travels)
    with connection() as conn:
        conn.execute("""UPDATE outbox SET next_attempt_at = now() - interval '1 second',
                        published_at = NULL WHERE entity_id = %s""", (email.id,))
        conn.commit()
    redis_client.delete("notify.transactional")
    assert outbox.sweep(lease_s=60) == 1
    (message,) = redis_client.lrange("notify.transactional", 0, -1)
    assert str(email.id) in message.decode()
    wired["smtp"].faults.reset()
    assert service.deliver(email.id) == "sent"
