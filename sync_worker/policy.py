"""The email-sync knobs as one value the sync's modules share.

Every knob is a field of the settings registry's sync group (`relay/settings/sync.py`:
HOMERIA_RETRY_*, HOMERIA_BREAKER_*, HOMERIA_MAX_RPS, HOMERIA_CLAIM_LEASE_SECONDS,
HOMERIA_MAX_TOKEN_WAIT_SECONDS), validated when a process starts (a malformed value stops
it with one line naming the variable, exit 2); every module asks `get_policy()` and
nothing reads os.environ.
"""

from __future__ import annotations

from dataclasses import dataclass

from relay.settings import get_settings


@dataclass(frozen=True)
class Policy:
    retry_base_s: float
    retry_max_s: float
    give_up_s: float
    breaker_threshold: int
    breaker_cooldown_s: float
    max_rps: float
    # how long a worker may hold a claimed change before another may send it again
    claim_lease_s: float
    # a task that cannot get a rate-limit token within this waits by a countdown instead
    max_token_wait_s: float


def get_policy() -> Policy:
    """Built from the (cached) settings on each call: cheap, and never stale when a test
    reloads the settings."""
    s = get_settings()
    return Policy(
        retry_base_s=s.homeria_retry_base_seconds,
        retry_max_s=s.homeria_retry_max_seconds,
        give_up_s=s.homeria_retry_give_up_seconds,
        breaker_threshold=s.homeria_breaker_threshold,
        breaker_cooldown_s=s.homeria_breaker_cooldown_seconds,
        max_rps=float(s.homeria_max_rps),
        claim_lease_s=s.homeria_claim_lease_seconds,
        max_token_wait_s=s.homeria_max_token_wait_seconds,
    )


def reset_policy_cache() -> None:
    """Nothing is cached here any more (see `get_policy`); kept for existing callers."""
