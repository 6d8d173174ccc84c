"""The sync's retry policy (parsing Retry-After and the backoff formula: tests/unit/relay)."""

import random

from sync_worker.errors import Classification, Outcome, retry_delay


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
