import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from sync_worker.errors import (
    Classification,
    Outcome,
    backoff_delay,
    parse_retry_after,
    retry_delay,
)

NOW = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "seconds"), [
    ("0", 0.0), ("7", 7.0), (" 120 ", 120.0), ("1.5", 1.5),
    (None, None), ("", None), ("soon", None), ("-3", None), ("inf", None), ("nan", None),
])
def test_retry_after_delta_seconds(value, seconds):
    assert parse_retry_after(value, NOW) == seconds


def test_retry_after_http_date_is_seconds_from_now():
    value = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(value, NOW) == 90.0


def test_retry_after_rfc850_and_asctime_dates_parse():
    assert parse_retry_after("Monday, 23-Nov-26 10:01:00 GMT", NOW) == 60.0
    assert parse_retry_after("Mon Nov 23 10:00:30 2026", NOW) == 30.0


def test_retry_after_date_in_the_past_means_now():
    value = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(value, NOW) == 0.0


@pytest.mark.parametrize("attempt", [0, 1, 2, 5, 9, 10, 50, 10_000])
def test_backoff_stays_within_full_jitter_bounds(attempt):
    rng = random.Random(attempt)
    ceiling = min(600.0, 2.0 * 2 ** min(attempt, 64))
    delays = [backoff_delay(attempt, rng=rng) for _ in range(500)]
    assert all(0.0 <= d <= ceiling for d in delays)
    assert max(delays) > ceiling * 0.8           # jitter spans the range, not a constant
    assert min(delays) < ceiling * 0.2


def test_backoff_is_capped():
    assert max(backoff_delay(30, base=2, cap=60, rng=random.Random(1)) for _ in range(200)) <= 60


def test_backoff_rejects_negative_attempt():
    with pytest.raises(ValueError):
        backoff_delay(-1)


def test_retry_delay_never_retries_synced_or_permanent():
    assert retry_delay(Classification(Outcome.SYNCED, "applied"), 0) is None
    assert retry_delay(Classification(Outcome.PERMANENT, "email_in_use"), 0) is None


def test_retry_delay_waits_at_least_retry_after():
    limited = Classification(Outcome.RATE_LIMITED, "rate_limited", retry_after=30.0)
    delays = [retry_delay(limited, 0, rng=random.Random(i)) for i in range(50)]
    assert all(30.0 <= d <= 31.0 for d in delays)


def test_retry_delay_without_retry_after_falls_back_to_backoff():
    limited = Classification(Outcome.RATE_LIMITED, "rate_limited")
    assert 0.0 <= retry_delay(limited, 3, rng=random.Random(0)) <= 16.0
    transient = Classification(Outcome.TRANSIENT, "timeout")
    assert 0.0 <= retry_delay(transient, 1, rng=random.Random(0)) <= 4.0
