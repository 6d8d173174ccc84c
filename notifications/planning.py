"""Which channels an event goes to, in which order, and what happens after a failure.

Pure functions (no database, no clock of their own) so the rules read and test in one
place:

- `plan(event, now)`: one `PlannedRow` per planned channel. Order updates follow the
  customer's `channels` in their order of preference; promotions go to email, then push.
  Channels that cannot be used get an explicit `suppressed` row with the reason
  (`opted_out`, `expired`, `superseded`, `channel_not_accepted`,
  `no_contact_for_channel`); the first usable channel is `pending`, the other usable
  ones wait as `standby` fallbacks. Every event yields at least one row.
- `after_transient(...)`: retry this channel, or give up on it and fall back now.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from notifications.models import STAGES, Customer, EventType, OrderEvent
from notifications.policy import RetryPolicy

PROMOTION_PLAN: tuple[str, ...] = ("email", "push")

PENDING, STANDBY, SUPPRESSED = "pending", "standby", "suppressed"


@dataclass(frozen=True)
class PlannedRow:
    channel: str
    rank: int
    state: str          # pending | standby | suppressed
    reason: str | None = None


def has_contact(customer: Customer, channel: str) -> bool:
    if channel == "email":
        return bool(customer.email)
    if channel == "sms":
        return bool(customer.phone)
    if channel == "push":
        return bool(customer.push_token)
    return channel == "inapp"  # the inbox needs only the customer id


def is_superseded(event: OrderEvent, others: Iterable[tuple[str, datetime]]) -> bool:
    """True when the same order already has a later stage that happened no earlier than
    this event: telling the customer "packed" after "delivered" only confuses."""
    stage = STAGES.get(event.type)
    if stage is None:
        return False
    for other_type, other_at in others:
        other_stage = STAGES.get(EventType(other_type))
        if other_stage and other_stage > stage and other_at >= event.occurred_at:
            return True
    return False


def _blanket_reason(event: OrderEvent, now: datetime, superseded: bool) -> str | None:
    """A reason that suppresses every channel of the event."""
    if event.is_promotion and not event.customer.marketing_opt_in:
        return "opted_out"
    if event.expires is not None and event.expires <= now:
        return "expired"
    if superseded:
        return "superseded"
    return None


def plan(event: OrderEvent, now: datetime, *, superseded: bool = False) -> list[PlannedRow]:
    customer = event.customer
    if event.is_promotion:
        channels = list(PROMOTION_PLAN)
    else:
        channels = list(customer.channels) or ["email"]
    blanket = _blanket_reason(event, now, superseded)
    rows: list[PlannedRow] = []
    usable = 0
    for rank, channel in enumerate(channels):
        reason = blanket
        if reason is None and channel not in customer.channels:
            reason = "channel_not_accepted"
        if reason is None and not has_contact(customer, channel):
            reason = "no_contact_for_channel"
        if reason is not None:
            rows.append(PlannedRow(channel, rank, SUPPRESSED, reason))
            continue
        rows.append(PlannedRow(channel, rank, PENDING if usable == 0 else STANDBY))
        usable += 1
    return rows


# -- after a failed attempt ------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    action: str          # "retry" | "fallback"
    delay_s: float = 0.0
    reason: str = ""


def backoff(attempt: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """base * 2^(attempt-1), capped, with ±20 % jitter so retries of a burst spread out."""
    raw = min(policy.max_s, policy.base_s * 2 ** max(0, attempt - 1))
    return raw * (0.8 + 0.4 * (rng or random).random())


def after_transient(*, attempts: int, active_since: datetime, now: datetime,
                    deadline: datetime, transactional: bool, policy: RetryPolicy,
                    retry_after: float | None = None,
                    rng: random.Random | None = None) -> Step:
    """Retry the same channel, or fall back to the next one at once.

    Fall back when the channel used its attempts or its time budget, or — for order
    updates — when waiting for the retry would reach the deadline: a timely SMS beats a
    late email, and a retry past the deadline would be invisible to the SLA check.
    """
    if attempts >= policy.max_attempts:
        return Step("fallback", reason="attempts_exhausted")
    delay = retry_after if retry_after is not None else backoff(attempts, policy, rng)
    delay = min(max(delay, 0.0), policy.max_s)
    retry_at = now + timedelta(seconds=delay)
    if (retry_at - active_since).total_seconds() > policy.budget_s:
        return Step("fallback", reason="channel_budget_exhausted")
    if transactional and retry_at >= deadline:
        return Step("fallback", reason="deadline_at_risk")
    return Step("retry", delay_s=delay, reason="transient")
