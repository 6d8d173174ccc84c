"""The email-sync knobs, read in one place.

Every variable below is a `relay.settings` field, validated when a process starts (a
malformed value stops it with one line naming the variable, exit 2); every module asks
`get_policy()` and nothing reads os.environ.

| variable                          | default | meaning                                   |
|-----------------------------------|---------|-------------------------------------------|
| HOMERIA_RETRY_BASE_SECONDS        | 2       | first backoff ceiling (full jitter)       |
| HOMERIA_RETRY_MAX_SECONDS         | 600     | backoff ceiling cap                       |
| HOMERIA_RETRY_GIVE_UP_SECONDS     | 86400   | dead letter `max_age` after this long failing |
| HOMERIA_BREAKER_THRESHOLD         | 5       | consecutive transient failures that open  |
| HOMERIA_BREAKER_COOLDOWN_SECONDS  | 30      | open -> half-open (one probe) after this  |
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

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


@lru_cache(maxsize=1)
def get_policy() -> Policy:
    s = get_settings()
    return Policy(
        retry_base_s=s.homeria_retry_base_seconds,
        retry_max_s=s.homeria_retry_max_seconds,
        give_up_s=s.homeria_retry_give_up_seconds,
        breaker_threshold=s.homeria_breaker_threshold,
        breaker_cooldown_s=s.homeria_breaker_cooldown_seconds,
        max_rps=float(s.homeria_max_rps),
    )


def reset_policy_cache() -> None:
    get_policy.cache_clear()
