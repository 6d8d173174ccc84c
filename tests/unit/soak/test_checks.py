"""scripts/soak's verdict on crafted stand-in records: each check passes on a clean run and
fails, naming the ids, on a lost / duplicated / out-of-order / unalerted record."""

from __future__ import annotations

import sys

from tests.support import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

from soaklib import checks
from soaklib.checks import Alert, Change, Delivery, Event


def chain(customer: str, steps: int, start: int = 0) -> list[Change]:
    """Changes moving `customer` along its addresses a{start} -> a{start+1} -> ..."""
    return [Change(f"{customer}-ch{k}", customer, k, f"{customer}-{k}@x.example",
                   f"{customer}-{k + 1}@x.example") for k in range(start, start + steps)]


def body(change: Change, current: Change | None = None) -> dict:
    """What Homeria records: `current` set when `change` carried earlier ones."""
    return {"change_id": change.change_id, "current_email": (current or change).current,
            "new_email": change.new}


def by_name(results: list[checks.Check]) -> dict[str, checks.Check]:
    return {c.name.split(": ", 1)[1]: c for c in results}


def test_a_clean_chain_passes_including_a_carried_change():
    # given A->B applied, then B->C and C->D carried as one call B->D
    a, b = chain("C1", 3), chain("C2", 1)
    applied = [body(a[0]), body(b[0]), body(a[2], current=a[1])]
    # when
    results = checks.email_changes([*a, *b], applied, {})
    # then
    assert all(c.ok for c in results), [c.failures for c in results]
    assert "3/4 applied" not in results[0].figures and "1 carried" in results[0].figures


def test_a_change_never_applied_is_lost_and_named_with_its_dead_letter():
    a = chain("C1", 2)
    results = by_name(checks.email_changes(a, [body(a[0])], {"C1-ch1": "customer_not_found"}))
    assert not results["0 lost"].ok
    assert "1 changes lost" in results["0 lost"].failures[0]
    assert "C1-ch1 [dead-lettered: customer_not_found]" in results["0 lost"].failures[0]


def test_a_lost_change_shows_where_relay_holds_it():
    a = chain("C1", 1)
    results = by_name(checks.email_changes(a, [], {}, {"C1-ch0": "relay: pending"}))
    assert "C1-ch0 [relay: pending]" in results["0 lost"].failures[0]


def test_a_change_applied_twice_is_caught_by_id_and_by_chain_step():
    a = chain("C1", 1)
    results = by_name(checks.email_changes(a, [body(a[0]), body(a[0])], {}))
    failures = results["0 applied twice at Homeria"].failures
    assert any("changes applied more than once: C1-ch0" in f for f in failures)
    assert any("customer C1 step 0" in f for f in failures)


def test_an_older_change_applied_after_a_newer_one_is_out_of_order():
    a = chain("C1", 2)
    results = by_name(checks.email_changes(a, [body(a[1]), body(a[0])], {}))
    assert results["0 out of order per customer"].failures == [
        "1 changes applied after a later change of the same customer: C1-ch0 (customer C1)"]


def test_an_unknown_customer_change_must_be_dead_lettered_not_applied():
    stray = Change("X-1", "X", 0, "nobody@x.example", "nobody2@x.example", "dead_letter")
    ok = by_name(checks.email_changes([stray], [], {"X-1": "customer_not_found"}))
    assert ok["0 lost"].ok
    stuck = by_name(checks.email_changes([stray], [], {}))
    assert "X-1" in stuck["0 lost"].failures[0]


def test_an_applied_change_nobody_sent_is_reported():
    a = chain("C1", 1)
    ghost = {"change_id": "ghost", "current_email": "z@x.example", "new_email": "y@x.example"}
    results = by_name(checks.email_changes(a, [body(a[0]), ghost], {}))
    assert "ghost" in results["0 applied twice at Homeria"].failures[0]


EVENTS = [Event("e1", "order_confirmed", 1000.0), Event("e2", "shipped", 1000.0),
          Event("e3", "packed", 1000.0)]


def test_each_notification_sent_once_passes():
    deliveries = [Delivery("e1", "email", 10), Delivery("e2", "sms", 11),
                  Delivery("e3", "push", 12)]
    assert all(c.ok for c in checks.notifications(EVENTS, deliveries, {}, {}))


def test_a_duplicate_and_a_missing_notification_are_named():
    deliveries = [Delivery("e1", "email", 10), Delivery("e1", "sms", 11),
                  Delivery("e2", "sms", 11)]
    once = checks.notifications(EVENTS, deliveries, {}, {}, notes={"e3": "relay: sms pending"})[0]
    assert "1 notifications never sent: e3 [relay: sms pending]" in once.failures
    assert "1 notifications sent more than once: e1 x2" in once.failures


def test_a_superseded_shipping_stage_is_fine_but_a_superseded_confirmation_is_lost():
    deliveries = [Delivery("e2", "sms", 11)]
    once = checks.notifications(EVENTS, deliveries, {"e1": "superseded", "e3": "superseded"},
                                {})[0]
    assert once.failures == ["1 notifications never sent: e1 [superseded]"]


def test_dead_letters_must_be_for_permanent_failures_only():
    events = [*EVENTS[:2], Event("p1", "shipped", 1000.0, "dead_letter"),
              Event("p2", "packed", 1000.0, "dead_letter")]
    deliveries = [Delivery("e1", "email", 10)]
    dead = checks.notifications(events, deliveries, {},
                                {"e2": "all_channels_failed", "p1": "all_channels_failed"})[1]
    assert dead.failures == [
        "1 notifications dead-lettered although every failure was transient: "
        "e2 [all_channels_failed]",
        "1 permanently failing notifications not dead-lettered (or sent): p2"]


def test_messages_for_no_known_notification_fail_the_check():
    once = checks.notifications(EVENTS[:1], [Delivery("e1", "email", 1),
                                             Delivery("zz", "sms", 2)], {}, {}, ["push n-9"])[0]
    assert once.failures == [
        "2 messages the stand-ins received for no known notification: push n-9, zz"]


def test_every_notification_past_its_deadline_needs_a_breach_alert():
    events = [Event("late", "shipped", 100.0), Event("never", "packed", 100.0),
              Event("on-time", "shipped", 100.0), Event("dead", "packed", 100.0, "dead_letter"),
              Event("superseded", "packed", 100.0), Event("recent", "packed", 950.0)]
    deliveries = [Delivery("late", "sms", 300.0), Delivery("on-time", "email", 50.0)]
    # when only "late" was alerted
    check = checks.breach_alerts(events, deliveries, [Alert("late")], now=1000.0, grace_s=90,
                                 suppressed={"superseded": "superseded"})
    # then the unsent and the dead-lettered ones are missing their alert
    assert check.failures == [
        "2 notifications past their deadline without a breach alert "
        "(0 summarised alerts cover the rest): dead, never"]
    # a summary counting two more covers them
    covered = checks.breach_alerts(events, deliveries, [Alert("late"), Alert(None, 2)],
                                   now=1000.0, grace_s=90, suppressed={"superseded": "x"})
    assert covered.ok, covered.failures


def test_a_breach_alert_for_a_notification_sent_early_is_wrong():
    events = [Event("on-time", "shipped", 1000.0)]
    check = checks.breach_alerts(events, [Delivery("on-time", "email", 100.0)],
                                 [Alert("on-time")], now=2000.0, grace_s=90, suppressed={})
    assert check.failures == [
        "1 breach alerts for notifications sent well before their deadline: on-time"]


def test_process_exits_faults_and_producers_fail_when_they_should():
    assert checks.process_exits({}).ok
    exits = checks.process_exits({"sync-1": ["exit 1: Unrecoverable error"]})
    assert exits.failures == ["1 unexpected process exits: sync-1: exit 1: Unrecoverable error"]
    assert checks.faults_applied({"a": None}).ok
    assert not checks.faults_applied({"a": None, "b": "400 unknown fault setting"}).ok
    assert checks.producers([], {"OperationalError": 3}).ok
    assert not checks.producers(["soak-1-change-4"], {}).ok


def test_a_delay_notice_fares_as_its_event():
    events = [Event("ok", "shipped", 1.0), Event("hopeless", "packed", 1.0, "dead_letter")]
    notices = [Event("delay:ok", "delay_notice", 2.0), Event("delay:hopeless", "delay_notice", 2.0)]
    assert [n.expect for n in checks.delay_notices(events, notices)] == ["sent", "dead_letter"]
    # so a dead-lettered notice for the hopeless customer is no failure, for the other one it is
    dead = checks.notifications([*events, *checks.delay_notices(events, notices)],
                                [Delivery("ok", "email", 1.0)], {},
                                {"hopeless": "all_channels_failed",
                                 "delay:hopeless": "all_channels_failed",
                                 "delay:ok": "all_channels_failed"})[1]
    assert dead.failures == ["1 notifications dead-lettered although every failure was "
                             "transient: delay:ok [all_channels_failed]"]
