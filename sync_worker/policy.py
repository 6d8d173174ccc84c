"""The email-sync knobs, read in one place.

`relay.settings` owns the contract's variables (HOMERIA_MAX_RPS ...). The retry and
breaker knobs below are read from relay.settings when it grows a field for them, else
from the environment with these defaults, so every module asks `get_policy()` and nothing
else reads os.environ.

| variable                          | default | meaning                                   |
|-----------------------------------|---------|-------------------------------------------|
| HOMERIA_RETRY_BASE_SECONDS        | 2       | first backoff ceiling (full jitter)       |
| HOMERIA_RETRY_MAX_SECONDS         | 600     | backoff ceiling cap                       |
| HOMERIA_RETRY_GIVE_UP_SECONDS     | 86400   | dead letter `max_age` after this long failing |
| HOMERIA_BREAKER_THRESHOLD         | 5       | consecutive transient failures that open  |
| HOMERIA_BREAKER_COOLDOWN_SECONDS  | 30      | open -> half-open (one probe) after this  |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from relay.errors import ConfigurationError
from relay.settings import get_settings

# How long a worker may hold a claimed change before another may send it again. Longer
# than the client's whole timeout (connect 3.05 + read 10), shorter than the outbox lease.
CLAIM_LEASE_SECONDS = 20.0
# A task that cannot get a rate-limit token within this waits by a countdown instead.
MAX_TOKEN_WAIT_SECONDS = 0.5


@dataclass(frozen=True)
class Policy:
    retry_base_s: float
    retry_max_s: float
    give_up_s: float
    breaker_threshold: int
    breaker_cooldown_s: float
    max_rps: float


def _read(name: str, default: float, *, minimum: float) -> float:
    attr = name.lower()
    value = getattr(get_settings(), attr, None)
    if value is None:
        raw = os.environ.get(name, "").strip()
        try:
            value = float(raw) if raw else default
        except ValueError:
            raise ConfigurationError(f"{name} is invalid: not a number") from None
    if value < minimum:
        raise ConfigurationError(f"{name} is invalid: must be >= {minimum:g}")
    return float(value)


@lru_cache(maxsize=1)
def get_policy() -> Policy:
    return Policy(
        retry_base_s=_read("HOMERIA_RETRY_BASE_SECONDS", 2, minimum=0.01),
        retry_max_s=_read("HOMERIA_RETRY_MAX_SECONDS", 600, minimum=0.01),
        give_up_s=_read("HOMERIA_RETRY_GIVE_UP_SECONDS", 86400, minimum=1),
        breaker_threshold=int(_read("HOMERIA_BREAKER_THRESHOLD", 5, minimum=1)),
        breaker_cooldown_s=_read("HOMERIA_BREAKER_COOLDOWN_SECONDS", 30, minimum=0.1),
        max_rps=float(get_settings().homeria_max_rps),
    )


def reset_policy_cache() -> None:
    get_policy.cache_clear()
