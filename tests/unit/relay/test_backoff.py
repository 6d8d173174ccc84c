"""Exponential backoff: the ceiling doubles up to the cap; the delay is drawn in a band."""

import random

import pytest

from relay.backoff import FULL, NEAR, backoff


@pytest.mark.parametrize("step", [0, 1, 2, 5, 9, 10, 50, 10_000])
def test_full_jitter_spans_zero_to_the_ceiling(step):
    rng = random.Random(step)
    ceiling = min(600.0, 2.0 * 2 ** min(step, 64))
    delays = [backoff(step, base=2.0, cap=600.0, rng=rng) for _ in range(500)]
    assert all(0.0 <= d <= ceiling for d in delays)
    assert max(delays) > ceiling * 0.8           # jitter spans the range, not a constant
    assert min(delays) < ceiling * 0.2


def test_near_jitter_stays_within_twenty_percent():
    rng = random.Random(3)
    delays = [backoff(2, base=10.0, cap=300.0, jitter=NEAR, rng=rng) for _ in range(500)]
    assert all(32.0 <= d <= 48.0 for d in delays)
    assert min(delays) < 33.0 and max(delays) > 47.0


def test_the_cap_bounds_the_ceiling():
    assert max(backoff(30, base=2, cap=60, rng=random.Random(1)) for _ in range(200)) <= 60


def test_a_seeded_draw_is_the_ceiling_times_one_random_number():
    # the formula the callers' seeded tests rely on: one draw from the generator per delay
    assert backoff(3, base=1.0, cap=100.0, jitter=FULL, rng=random.Random(7)) \
        == 8.0 * random.Random(7).random()
    assert backoff(3, base=1.0, cap=100.0, jitter=NEAR, rng=random.Random(7)) \
        == 8.0 * (0.8 + 0.4 * random.Random(7).random())


def test_a_negative_step_is_refused():
    with pytest.raises(ValueError):
        backoff(-1, base=2.0, cap=600.0)
