"""The SLA math as plain functions: on-time status, percentiles from buckets, the
breach prediction, report ranges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notifications.sla import math as sla_math
from notifications.sla import reports
from notifications.sla.config import config
from notifications.sla.counters import observe_sent
from relay.errors import InvalidInput

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def row(state="pending", occurred=-1.0, sent=None):
    occurred_at = NOW + occurred * H
    return {"state": state, "occurred_at": occurred_at, "deadline": occurred_at + 2 * H,
            "sent_at": None if sent is None else NOW + sent * H}


@pytest.mark.parametrize(("r", "expected"), [
    (row("sent", occurred=-3, sent=-1.5), "on_time"),      # 1.5 h after the event
    (row("sent", occurred=-3, sent=-0.5), "late"),         # 2.5 h: sent late is late
    (row("pending", occurred=-2.5), "late"),               # unsent past the deadline
    (row("pending", occurred=-1.5), "at_risk"),            # past the warn age (1 h)
    (row("sending", occurred=-0.2), "pending"),
    (row("suppressed", occurred=-5), "excluded"),
    (row("standby", occurred=-5), "excluded"),
])
def test_on_time_status(r, expected):
    assert sla_math.on_time_status(r, NOW, warn_s=3600) == expected


def test_an_event_is_judged_by_its_first_sent_row():
    failed, sent = row("failed", occurred=-3), row("sent", occurred=-3, sent=-1.5)
    assert sla_math.event_status([failed, sent], NOW, warn_s=3600) == "on_time"
    assert sla_math.event_status([row("failed", occurred=-3)], NOW, warn_s=3600) == "late"
    assert sla_math.event_status([row("failed", occurred=-0.5)], NOW, warn_s=3600) == "pending"
    assert sla_math.event_status([row("suppressed", occurred=-3)], NOW, warn_s=3600) == "excluded"


def test_percentiles_interpolate_inside_the_bucket():
    buckets = sla_math.empty_buckets()
    buckets[sla_math.bucket_of(45)] = 100          # all between 30 s and 60 s
    assert sla_math.percentile(buckets, 0.5) == pytest.approx(45)
    assert sla_math.percentile(buckets, 0.99) == pytest.approx(59.7)
    assert sla_math.percentile(sla_math.empty_buckets(), 0.5) is None
    buckets[-1] = 1000                        # the open bucket reports its lower bound
    assert sla_math.percentile(buckets, 0.99) == sla_math.LATENCY_BOUNDS[-1]


def test_bucket_of_matches_sql_width_bucket():
    assert sla_math.bucket_of(0.5) == 0
    assert sla_math.bucket_of(1) == 1              # lower bounds are inclusive, like SQL
    assert sla_math.bucket_of(10 ** 9) == len(sla_math.LATENCY_BOUNDS)


def backlog(groups, sent_in_10_min):
    return sla_math.Backlog("notify.transactional",
                       [(NOW + timedelta(minutes=m), n) for m, n in groups],
                       sent_in_10_min, 600)


def test_prediction_fires_on_a_backlog_that_cannot_drain_in_time():
    # draining 30/min: the first 1,000 go in 33 min (due at 40: fine); the 2,000 due at
    # 70 min would go out by minute 100, the 3,000 due at 100 by minute 200
    p = sla_math.predict(backlog([(40, 1000), (70, 2000), (100, 3000)], 300), NOW)
    assert p.first_breach_at == NOW + timedelta(minutes=70)
    assert p.seconds_to_breach == 4200 and p.at_risk == 5000 and p.drain_per_min == 30


def test_prediction_stays_quiet_when_the_backlog_drains_in_time():
    p = sla_math.predict(backlog([(40, 1000), (70, 2000)], 6000), NOW)   # 600/min: 5 min
    assert p.first_breach_at is None and p.at_risk == 0 and p.pending == 3000


def test_rows_already_late_stand_in_line_but_are_not_predicted():
    p = sla_math.predict(backlog([(-5, 600), (30, 10)], 60), NOW)         # 6/min: 100 min
    assert p.first_breach_at == NOW + timedelta(minutes=30) and p.at_risk == 10


def test_nothing_draining_means_the_first_deadline_breaches():
    p = sla_math.predict(backlog([(90, 3)], 0), NOW)
    assert p.seconds_to_breach == 5400


@pytest.mark.parametrize("text", ["", "24", "0h", "-1d", "3w", "401d", "abc"])
def test_bad_since_names_the_option(text):
    with pytest.raises(InvalidInput) as exc:
        reports.parse_since(text, NOW)
    assert exc.value.field == "--since"


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "nov", "2027-01"])
def test_bad_month_names_the_option(text):
    with pytest.raises(InvalidInput) as exc:
        reports.parse_month(text, NOW)
    assert exc.value.field == "--month"


def test_ranges():
    assert reports.parse_since("90m", NOW) == (NOW - timedelta(minutes=90), NOW)
    assert reports.parse_month("2026-10", NOW) == (
        datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    assert reports.parse_month("2026-11", NOW)[1] == NOW          # the month so far
    assert reports.last_closed_day(NOW, 7200) == datetime(2026, 11, 22).date()


def test_env_is_validated(monkeypatch):
    monkeypatch.setenv("SLA_WARN_SECONDS", "soon")
    with pytest.raises(Exception, match="SLA_WARN_SECONDS"):
        config()


def test_observe_sent_counts_on_time_and_latency():
    from relay import metrics

    counter = metrics.notifications_sent_total.labels("sms", "packed", "false")
    before = counter._value.get()
    observe_sent("sms", "packed", NOW, NOW - H, occurred_at=NOW - 3 * H)
    assert counter._value.get() == before + 1
