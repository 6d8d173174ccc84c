"""OTNR on a constructed data set: live rows, daily rollups, and `relay sla report`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pytest

from notifications import record_order_event
from notifications.sla import reports
from notifications.sla.check import check
from tests.support import run_cli
from tests.support.events import event
from tests.support.notifications import rows
from tests.support.rows import fetch

M = timedelta(minutes=1)


def at(kind: str, when: datetime, **changes) -> dict:
    doc = event(kind, occurred_at=when.isoformat(), **changes)
    record_order_event(doc)
    return doc


def sent(doc: dict, channel: str, when: datetime, failed: str | None = None) -> None:
    fetch("""UPDATE notifications SET state = CASE channel WHEN %(c)s THEN 'sent'
                                                 WHEN %(f)s THEN 'failed' ELSE 'skipped' END,
                  sent_at = CASE channel WHEN %(c)s THEN %(t)s::timestamptz END
           WHERE event_id = %(e)s""", {"c": channel, "f": failed, "t": when, "e": doc["event_id"]})


def attempt(doc: dict, channel: str, outcome: str) -> None:
    fetch("""INSERT INTO attempts (kind, entity_id, started_at, outcome)
           VALUES ('notification', %s, now(), %s)""",
        (rows(doc["event_id"])[channel]["id"], outcome))


def build(base: datetime) -> dict:
    """A on time by email; B sent late by SMS; C never sent (late); E's email failed and
    the SMS went on time; F all suppressed; G a promotion. Attempts: 5, 2 failed."""
    a = at("shipped", base)
    sent(a, "email", base + 30 * M)
    attempt(a, "email", "sent")
    b = at("shipped", base, customer__channels=["sms"])
    sent(b, "sms", base + 180 * M)
    attempt(b, "sms", "transient")
    attempt(b, "sms", "sent")
    c = at("packed", base)
    e = at("delivered", base)
    sent(e, "sms", base + 60 * M, failed="email")
    attempt(e, "email", "permanent")
    attempt(e, "sms", "sent")
    at("shipped", base, customer__channels=["push"], customer__push_token=None)
    at("promotion", base)
    fetch("""INSERT INTO dead_letters (kind, entity_id, reason, created_at)
           VALUES ('notification', gen_random_uuid(), 'all_channels_failed', %s)""",
        (base + 130 * M,))
    return {"a": a, "b": b, "c": c, "e": e}


def test_otnr_counts_delivered_events_and_late_unsent_ones(db, broker):
    now = datetime.now(UTC)
    build(now - 5 * 60 * M)
    at("packed", now - 30 * M)                     # unsent, not yet due: excluded
    assert check(now)["breached"] == 1         # C; its delay notice is not measured
    doc = reports.report(now - 24 * 60 * M, now, now)
    o = doc["overall"]
    assert (o["events"], o["on_time"], o["late"], o["unsent_late"], o["breached"]) == (
        4, 2, 2, 1, 1)
    assert o["otnr"] == 0.5 and doc["met"] is False
    assert (o["attempts"], o["failed_attempts"], o["error_rate"]) == (5, 2, 0.4)
    assert o["latency_s"]["sent"] == 3 and o["latency_s"]["mean"] == 5400
    # percentiles come from buckets: within the bucket of the true value (3600 s, 10800 s)
    assert 3600 <= o["latency_s"]["p50"] < 4500
    assert 10800 <= o["latency_s"]["p99"] < 14400
    by_channel = {k: (v["events"], v["on_time"], v["attempts"], v["failed_attempts"])
                  for k, v in doc["by_channel"].items()}
    assert by_channel == {"email": (2, 1, 2, 1), "sms": (2, 1, 3, 1)}
    assert {k: v["otnr"] for k, v in doc["by_event_type"].items()} == {
        "delivered": 1.0, "packed": 0.0, "shipped": 0.5}
    assert list(doc["by_brand"]) == ["acme"] and list(doc["by_country"]) == ["ES"]
    assert doc["dead_letters"] == {"total": 1, "open": 1, "by_reason": {"all_channels_failed": 1}}


def test_the_report_from_rollups_equals_the_live_one(db, broker):
    now = datetime.now(UTC)
    day = (now - timedelta(days=3)).date()
    build(datetime.combine(day, time(10), tzinfo=UTC))
    start = datetime.combine(day, time(0), tzinfo=UTC)
    live = reports.report(start, start + timedelta(days=1), now)
    assert day in reports.rollup_due(now)
    assert reports.rollup_due(now) == []                       # rolled once
    rolled = reports.report(start, start + timedelta(days=1), now)
    assert rolled["sources"] == {"rollup_days": 1, "live": []}
    assert live["sources"]["rollup_days"] == 0
    for key in ("overall", "by_event_type", "by_channel", "by_brand", "by_country"):
        assert rolled[key] == live[key]
    # a wider range mixes rollups (closed days) and live rows (the rest)
    wide = reports.report(start - timedelta(hours=5), now, now)
    assert wide["sources"]["rollup_days"] >= 1 and wide["sources"]["live"]
    assert wide["overall"] == live["overall"]


def test_sla_report_json_through_the_cli(relay_env):
    now = datetime.now(UTC)
    build(now - 5 * 60 * M)
    result = run_cli(["sla", "report", "--since", "24h", "--json"], relay_env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["overall"]["otnr"] == 0.5 and doc["overall"]["events"] == 4
    # the events' month: in a month's first five hours they are in the one before
    month = run_cli(["sla", "report", "--month", (now - 5 * 60 * M).strftime("%Y-%m")],
                    {**relay_env, "COLUMNS": "120"})
    assert month.returncode == 0, month.stderr
    assert "OTNR by channel" in month.stdout and "50.00 %" in month.stdout


@pytest.mark.parametrize(("args", "option"), [
    (["--since", "yesterday"], "--since"),
    (["--month", "2026-13"], "--month"),
    (["--since", "24h", "--month", "2026-11"], "--since/--month"),
])
def test_bad_report_arguments_exit_2_naming_the_option(relay_env, args, option):
    result = run_cli(["sla", "report", *args], relay_env)
    assert result.returncode == 2
    assert option in result.stderr and result.stdout == ""
