"""The beat check against real PostgreSQL and Redis, with the clock as an argument."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from notifications.sla.check import check
from notifications.sla.math import annotate_order
from tests.integration.notifications.conftest import drain
from tests.integration.sla.conftest import past_event, rows, sql


def queued_ids(redis_client, queue: str) -> list[str]:
    return [json.loads(raw)["headers"]["argsrepr"] for raw in redis_client.lrange(queue, 0, -1)]


def test_an_unsent_notification_is_expedited_once_then_breached_once(
        db, broker, redis_client, captured):
    # given an order update left unsent for 61 minutes
    doc = past_event("shipped", minutes_ago=61)
    email = rows(doc["event_id"])["email"]
    now = datetime.now(UTC)
    # when the check runs: re-published on notify.expedite, ahead of normal work
    assert check(now)["expedited"] == 1
    assert queued_ids(redis_client, "notify.expedite") == [f"['{email['id']}']"]
    assert rows(doc["event_id"])["email"]["expedited_at"] == now
    assert check(now + timedelta(minutes=1))["expedited"] == 0      # once
    assert captured.calls == []
    # when it is still unsent at the deadline: breached, one alert, one delay notice
    later = now + timedelta(minutes=60)
    assert check(later)["breached"] == 1
    assert rows(doc["event_id"])["email"]["breached_at"] == later
    notice, fallback = sql("SELECT * FROM notifications WHERE event_type = 'delay_notice'"
                           " ORDER BY rank")
    assert (notice["channel"], notice["state"], notice["order_id"]) == (
        "email", "pending", doc["order_id"])
    assert (fallback["channel"], fallback["state"]) == ("sms", "standby")
    assert sql("SELECT queue FROM outbox WHERE entity_id = %s",
               (notice["id"],))[0]["queue"] == "notify.expedite"
    assert f"['{notice['id']}']" in queued_ids(redis_client, "notify.expedite")
    assert captured.keys() == ["sla.breach"]
    assert doc["order_id"] in captured.calls[0][1]
    assert check(later + timedelta(minutes=1))["breached"] == 0
    assert captured.keys() == ["sla.breach"]


def test_the_delay_notice_goes_over_the_first_channel_that_has_not_failed(wired, captured):
    doc = past_event("shipped", minutes_ago=130)
    # email gave up and the SMS fallback is the one stuck now
    sql("""UPDATE notifications SET state = CASE channel WHEN 'email' THEN 'failed'
                                                         ELSE 'pending' END
           WHERE event_id = %s""", (doc["event_id"],))
    sql("UPDATE outbox SET done_at = now() WHERE entity_id = %s",
        (rows(doc["event_id"])["email"]["id"],))
    check()
    (breach,) = sql("SELECT * FROM sla_breaches")
    assert (breach["channel"], breach["delay_channel"]) == ("sms", "sms")
    # the normal send path delivers it with the delay_notice template
    sql("UPDATE notifications SET state = 'failed' WHERE event_id = %s", (doc["event_id"],))
    assert "sent" in drain()
    (text,) = wired["sms"].state.messages()
    assert "delayed" in text.body and doc["order_id"] in text.body


def test_two_checkers_at_once_alert_and_notify_exactly_once(db, broker, captured, monkeypatch):
    monkeypatch.setenv("SLA_ESCALATE_AFTER", "3")
    docs = [past_event("packed", minutes_ago=125) for _ in range(4)]   # one customer
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(check())
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert sum(r["breached"] for r in results) == 4
    assert sorted(captured.keys()) == ["sla.breach"] * 4 + ["sla.escalation"]
    notices = sql("SELECT order_id FROM notifications WHERE event_type = 'delay_notice'"
                  " AND state = 'pending'")
    assert sorted(n["order_id"] for n in notices) == sorted(d["order_id"] for d in docs)
    (flag,) = sql("SELECT * FROM sla_escalations")
    assert flag["customer_id"] == "C-1001" and flag["breaches"] >= 3


def test_one_delay_notice_per_order(db, broker, captured):
    first = past_event("packed", minutes_ago=200)
    past_event("shipped", minutes_ago=125, order_id=first["order_id"],
               order__number=first["order_id"])
    check()
    assert len(sql("SELECT 1 FROM order_events WHERE type = 'delay_notice'")) == 1
    skipped = sql("SELECT delay_skipped FROM sla_breaches WHERE delay_event_id IS NULL")
    assert skipped == [{"delay_skipped": "order_already_notified"}]


def _backlog(n: int, due_in_min: float, sent_last_10_min: int) -> None:
    """n unsent rows due in `due_in_min`, plus recent sends that set the drain rate."""
    sql("""INSERT INTO order_events (event_id, type, order_id, customer_id, brand, country,
                                     locale, occurred_at, deadline, payload)
           SELECT 'bk-' || i, 'shipped', 'SO-bk-' || i, 'C-' || i, 'acme', 'ES', 'es-ES',
                  now() - interval '2 hours' + make_interval(mins => %(due)s),
                  now() + make_interval(mins => %(due)s) + make_interval(secs => i %% 60),
                  '{}'::jsonb
           FROM generate_series(1, %(n)s + %(sent)s) i""",
        {"n": n, "sent": sent_last_10_min, "due": due_in_min})
    sql("""INSERT INTO notifications (id, event_id, channel, rank, event_type, order_id,
                                      customer_id, brand, country, queue, state, occurred_at,
                                      deadline, sent_at)
           SELECT gen_random_uuid(), e.event_id, 'email', 0, 'shipped', e.order_id,
                  e.customer_id, 'acme', 'ES', 'notify.transactional',
                  CASE WHEN i <= %(n)s THEN 'pending' ELSE 'sent' END, e.occurred_at,
                  e.deadline, CASE WHEN i > %(n)s THEN now() - interval '1 minute' END
           FROM order_events e, LATERAL (SELECT substr(e.event_id, 4)::int AS i) x
           WHERE e.event_id LIKE 'bk-%%'""", {"n": n})


def test_a_backlog_that_will_breach_is_predicted(db, broker, captured):
    _backlog(300, due_in_min=20, sent_last_10_min=20)            # 2/min: 150 min of work
    done = check()
    assert done["predicted"] == 1
    assert captured.keys() == ["sla.predicted_breach"]
    (p,) = done["predictions"]
    assert p["pending"] == 300 and p["drain_per_min"] == 2.0
    check()                                                  # not again for 15 min
    assert captured.keys() == ["sla.predicted_breach"]


def test_a_backlog_that_drains_in_time_is_quiet(db, broker, captured):
    _backlog(300, due_in_min=20, sent_last_10_min=600)           # 60/min: 5 min of work
    assert check()["predicted"] == 0
    assert captured.calls == []


def test_the_gauges_follow_the_backlog(db, broker):
    from relay import metrics

    past_event("shipped", minutes_ago=30)
    done = check()
    assert done["unsent"] == 1 and done["late"] == 0
    assert 1790 < metrics.oldest_unsent_seconds._value.get() < 1900
    assert done["oldest_unsent_age_s"] > 1790


def test_the_order_timeline_carries_on_time_status(db, broker):
    from notifications.oncall import order_history

    doc = past_event("shipped", minutes_ago=70)
    history = annotate_order(order_history(doc["order_id"]))
    assert [(e["type"], e["on_time"]) for e in history["events"]] == [("shipped", "at_risk")]
    notes = {n["channel"]: n["on_time"] for n in history["notifications"]
             if n["event_id"] == doc["event_id"]}
    assert notes == {"email": "at_risk", "sms": "excluded"}
