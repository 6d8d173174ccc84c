"""Channel plans, suppression reasons and the retry-or-fallback decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notifications import planning, policy
from notifications.models import parse_event
from notifications.planning import PlannedRow
from notifications.policy import RetryPolicy
from tests.support.events import PROMO, SHIPPED, with_change

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, budget_s=600, base_s=5, max_s=300)


def plan(doc, **kw):
    return planning.plan(parse_event(doc), NOW, **kw)


def test_order_updates_follow_the_customers_channel_order_with_fallbacks_on_standby():
    doc = with_change(SHIPPED, "customer.channels", ["sms", "email", "inapp"])
    assert plan(doc) == [PlannedRow("sms", 0, "pending"), PlannedRow("email", 1, "standby"),
                         PlannedRow("inapp", 2, "standby")]


def test_a_channel_without_contact_is_suppressed_and_the_next_one_leads():
    doc = with_change(SHIPPED, "customer.phone", None)
    doc = with_change(doc, "customer.channels", ["sms", "email"])
    assert plan(doc) == [PlannedRow("sms", 0, "suppressed", "no_contact_for_channel"),
                         PlannedRow("email", 1, "pending")]


def test_a_customer_accepting_no_channel_still_gets_a_reason():
    doc = with_change(SHIPPED, "customer.channels", [])
    assert plan(doc) == [PlannedRow("email", 0, "suppressed", "channel_not_accepted")]


def test_promotions_go_to_email_then_push_only_if_accepted():
    rows = plan(PROMO)
    assert rows == [PlannedRow("email", 0, "pending"),
                    PlannedRow("push", 1, "suppressed", "channel_not_accepted")]


def test_promotions_without_opt_in_are_suppressed_as_opted_out():
    rows = plan(with_change(PROMO, "customer.marketing_opt_in", False))
    assert {(r.state, r.reason) for r in rows} == {("suppressed", "opted_out")}


def test_expired_campaigns_are_dropped():
    rows = plan(with_change(PROMO, "expires", (NOW - timedelta(minutes=1)).isoformat()))
    assert {r.reason for r in rows} == {"expired"}
    rows = plan(with_change(PROMO, "expires", (NOW + timedelta(days=1)).isoformat()))
    assert rows[0].state == "pending"


def test_superseded_events_are_suppressed():
    rows = plan(SHIPPED, superseded=True)
    assert {r.reason for r in rows} == {"superseded"}


def test_an_event_is_superseded_only_by_a_later_stage_that_happened_later():
    event = parse_event(SHIPPED)
    later = event.occurred_at + timedelta(hours=1)
    earlier = event.occurred_at - timedelta(hours=1)
    assert planning.is_superseded(event, [("delivered", later)])
    assert not planning.is_superseded(event, [("delivered", earlier)])
    assert not planning.is_superseded(event, [("packed", later), ("shipped", later)])


def test_the_order_confirmation_is_never_superseded():
    confirmed = parse_event(with_change(SHIPPED, "type", "order_confirmed"))
    later = confirmed.occurred_at + timedelta(hours=1)
    stages = ["packed", "shipped", "out_for_delivery", "delivered"]
    assert not planning.is_superseded(confirmed, [(s, later) for s in stages])
    packed = parse_event(with_change(SHIPPED, "type", "packed"))
    assert planning.is_superseded(packed, [("shipped", later)])


def step(attempts, *, since=NOW, deadline=NOW + timedelta(hours=2), transactional=True,
         retry_after=None):
    return planning.after_transient(attempts=attempts, active_since=since, now=NOW,
                                    deadline=deadline, transactional=transactional,
                                    policy=POLICY, retry_after=retry_after)


def test_a_transient_failure_is_retried_with_backoff():
    first, second = step(1), step(2)
    assert first.action == second.action == "retry"
    assert 4 <= first.delay_s <= 6 and 8 <= second.delay_s <= 12


def test_the_attempt_budget_triggers_fallback():
    assert step(3) == planning.Step("fallback", reason="attempts_exhausted")


def test_the_time_budget_triggers_fallback():
    assert step(1, since=NOW - timedelta(seconds=599)).reason == "channel_budget_exhausted"


def test_a_retry_that_would_reach_the_deadline_falls_back_for_order_updates_only():
    near = NOW + timedelta(seconds=30)
    assert step(1, deadline=near, retry_after=60).reason == "deadline_at_risk"
    assert step(1, deadline=near, retry_after=60, transactional=False).action == "retry"


def test_quiet_hours_are_local_to_the_country():
    # 22:30 in Madrid (UTC+1 in November) is quiet until 08:00: 9.5 hours
    at = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)
    assert policy.quiet_wait_seconds("ES", at, (21, 8)) == 9.5 * 3600
    # the same instant is 16:30 in New York: not quiet
    assert policy.quiet_wait_seconds("US", at, (21, 8)) == 0
    # a window that does not wrap midnight (London is UTC+1 in June)
    assert policy.quiet_wait_seconds("GB", datetime(2026, 6, 1, 11, tzinfo=UTC), (13, 14)) == 0
    assert policy.quiet_wait_seconds("GB", datetime(2026, 6, 1, 12, 30, tzinfo=UTC),
                                     (13, 14)) == 30 * 60


def test_quiet_hours_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("PROMO_QUIET_HOURS", "off")
    assert policy.quiet_hours() is None
    monkeypatch.setenv("PROMO_QUIET_HOURS", "21-8")
    assert policy.quiet_hours() == (21, 8)


def test_every_channel_failing_transiently_starts_a_jittered_round_until_the_give_up_age():
    import random

    created = NOW - timedelta(minutes=5)
    policy_ = RetryPolicy(max_attempts=3, budget_s=600, base_s=5, max_s=300)

    def round_(n, *, now=NOW, retry_after=None, seed=1):
        return planning.after_every_channel(
            round_=n, first_created=created, now=now, give_up_s=3600, policy=policy_,
            retry_after=retry_after, rng=random.Random(seed))

    # full jitter: anywhere from 0 up to base * 2^(round-1), capped
    delays = [round_(1, seed=s).delay_s for s in range(200)]
    assert 0 <= min(delays) < 1 and 4 < max(delays) <= 5
    assert all(0 <= round_(4, seed=s).delay_s <= 40 for s in range(50))
    assert max(round_(20, seed=s).delay_s for s in range(50)) <= 300
    assert round_(1).action == "next_round" and round_(1).reason == "waiting_out"
    # a provider's Retry-After is honoured (capped), never shortened
    assert round_(1, retry_after=120).delay_s == 120
    assert round_(1, retry_after=9999).delay_s == 300
    # the last round starts no later than the give-up age; at that age it gives up
    near_end = created + timedelta(seconds=3590)
    assert round_(9, now=near_end).delay_s <= 10
    end = created + timedelta(seconds=3600)
    assert round_(2, now=end) == planning.Step("give_up", reason="max_age")
