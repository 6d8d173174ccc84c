"""Retry-After per RFC 9110: delay-seconds (digits only) or an HTTP-date."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from relay.retry_after import parse_retry_after, retry_after_in

NOW = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "seconds"), [
    ("0", 0.0), ("7", 7.0), (" 120 ", 120.0), ("007", 7.0),
    (None, None), ("", None), ("  ", None), ("soon", None),
    # not delay-seconds (1*DIGIT): no server should send them, so they are no hint
    ("-3", None), ("1.5", None), ("+5", None), ("1e3", None), ("inf", None), ("nan", None),
    ("٣", None),   # a digit, but not an ASCII one
])
def test_delay_seconds(value, seconds):
    assert parse_retry_after(value, NOW) == seconds


def test_http_date_is_seconds_from_now():
    value = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(value, NOW) == 90.0


def test_obsolete_rfc850_and_asctime_dates_parse():
    assert parse_retry_after("Monday, 23-Nov-26 10:01:00 GMT", NOW) == 60.0
    assert parse_retry_after("Mon Nov 23 10:00:30 2026", NOW) == 30.0


def test_a_date_in_the_past_means_now():
    value = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(value, NOW) == 0.0


def test_without_now_a_date_counts_from_the_clock():
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= parse_retry_after(later) <= 30


def test_the_header_is_found_whatever_the_case_of_its_name():
    assert retry_after_in({"retry-after": "12"}) == 12.0
    assert retry_after_in({"Retry-After": "3", "Other": "x"}) == 3.0
    assert retry_after_in({"Other": "x"}) is None
    assert retry_after_in(None) is None
