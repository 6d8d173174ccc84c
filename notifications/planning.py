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
- `after_every_channel(...)`: every channel failed transiently — go round them again
  after a jittered backoff, or give up at NOTIFY_GIVE_UP_SECONDS.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from notifications.models import STAGES, Customer, EventType, OrderEvent
from notifications.policy import RetryPolicy
from relay.backoff import NEAR
from relay.backoff import backoff as exponential_backoff

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


# The order confirmation is the customer's receipt (in the EU the trader must confirm a
# distance contract on a durable medium): a later stage never makes it stale. Only the
# shipping stages after it supersede one another.
NEVER_SUPERSEDED = frozenset({EventType.ORDER_CONFIRMED})


def is_superseded(event: OrderEvent, others: Iterable[tuple[str, datetime]]) -> bool:
    """True when the same order already has a later shipping stage that happened no
    earlier than this event: telling the customer "packed" after "delivered" only
    confuses. The one home of the rule: single and bulk intake both call it."""
    stage = STAGES.get(event.type)
    if stage is None or event.type in NEVER_SUPERSEDED:
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
    action: str          # "retry" | "fallback" | "next_round" | "give_up"
    delay_s: float = 0.0
    reason: str = ""


def backoff(attempt: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """base * 2^(attempt-1), capped, with ±20 % jitter so retries of a burst spread out."""
    return exponential_backoff(max(0, attempt - 1), base=policy.base_s, cap=policy.max_s,
                               jitter=NEAR, rng=rng)


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


# The reasons `after_transient` gives up a channel for: the provider may well come back.
# A channel that failed with any other reason (a permanent error) stays out of later rounds.
TRANSIENT_FALLBACKS = frozenset({"attempts_exhausted", "channel_budget_exhausted",
                                 "deadline_at_risk"})
WAITING_OUT = "waiting_out"


def after_every_channel(*, round_: int, first_created: datetime, now: datetime,
                        give_up_s: float, policy: RetryPolicy,
                        retry_after: float | None = None,
                        rng: random.Random | None = None) -> Step:
    """Every channel still in play failed transiently: an outage, not a bad message.

    Wait it out rather than dead-letter: start round `round_` (1 = the first repeat) over
    the same channels, in the customer's order, after a backoff drawn uniformly from
    0..min(max, base * 2^(round-1)) ("full jitter": after a shared outage the retries of
    every notification in flight spread out instead of arriving together). Give up
    (`max_age`) once the notification is `give_up_s` old; the last round starts no later
    than that moment.
    """
    age = (now - first_created).total_seconds()
    if age >= give_up_s:
        return Step("give_up", reason="max_age")
    delay = exponential_backoff(max(0, round_ - 1), base=policy.base_s, cap=policy.max_s,
                                rng=rng)
    if retry_after is not None:
        delay = max(delay, min(max(retry_after, 0.0), policy.max_s))
    return Step("next_round", delay_s=min(delay, give_up_s - age), reason=WAITING_OUT)
