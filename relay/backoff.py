"""Exponential backoff with jitter: the one formula behind every delay relay schedules
after a failure (the Homeria sync's retries, the notification channels' retries and
their rounds after an outage).

The ceiling doubles per step from `base` up to `cap`; the delay is drawn from a band of
that ceiling. Full jitter (`FULL`, 0..ceiling) is the default: workers that failed
together — a shared outage — come back spread out instead of in synchronized waves.
A narrower band (`NEAR`, ±20 %) keeps a single retry close to its schedule where a delay
near zero would waste an attempt of a small budget.
"""

from __future__ import annotations

import random

Jitter = tuple[float, float]   # (lowest share of the ceiling, width of the band)

FULL: Jitter = (0.0, 1.0)      # uniform(0, ceiling)
NEAR: Jitter = (0.8, 0.4)      # uniform(0.8, 1.2) x ceiling


def backoff(step: int, *, base: float, cap: float, jitter: Jitter = FULL,
            rng: random.Random | None = None) -> float:
    """Seconds to wait after the `step`-th failure, counted from 0:
    `min(cap, base * 2**step)` times a share drawn from `jitter`."""
    if step < 0:
        raise ValueError("step must be >= 0")
    ceiling = min(cap, base * 2 ** min(step, 64))
    low, width = jitter
    return ceiling * (low + width * (rng or random).random())
