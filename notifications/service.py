"""Sending one notification: claim under a row lock, call the provider outside any
transaction, record the outcome — so a redelivered or duplicated message never sends twice.

    deliver(id):  tx1  a pending order update is claimed in one statement; otherwise,
                       lock the row; finished → "duplicate"; claimed by a live worker →
                       "busy"; expired campaign → suppressed; promotion in quiet hours →
                       parked; else state pending→sending, claim_token, claimed_until,
                       attempts+1. COMMIT (no connection is held during the call).
                  call render + channel.send(message)          (sent_at = accepted time)
                  tx2  lock the row again; record the attempt; then
                       accepted  → sent (sent_at, provider id), standby fallbacks skipped
                                   (one statement: notification_sent, relay/sql)
                       transient → pending + outbox.retry_in, unless the channel's budget
                                   is spent or the retry would reach the deadline
                       permanent / budget spent → notifications/fallback.py: the next
                                   standby channel at once; none left → the next round
                                   over the channels that failed transiently, after a
                                   jittered backoff (an outage is waited out), until
                                   NOTIFY_GIVE_UP_SECONDS (`max_age`); every channel
                                   failed permanently → `all_channels_failed`

A worker that dies mid-send leaves `sending` with a claim that expires; the outbox sweep
republishes after its lease and the next worker reclaims it. Only in that case (provider
accepted, worker died before tx2) can a message go out twice; email reuses its Message-ID.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from notifications import lateness, planning, policy
from notifications.channels import Channel, ChannelError, channels_from_settings
from notifications.channels.base import PermanentChannelError, TransientChannelError
from notifications.channels.inapp import InAppChannel
from notifications.compose import compose
from notifications.fallback import give_up
from notifications.models import OrderEvent
from notifications.producer import KIND
from notifications.rendering import RenderError
from notifications.sla.counters import observe_sent
from notifications.store import sending as store
from relay import alerts, attempts, metrics, outbox
from relay.db import Tx, transaction
from relay.logs import get_logger
from relay.names import Queues

log = get_logger(__name__)

FINAL_STATES = frozenset({"sent", "failed", "suppressed", "skipped"})
_channels: dict[str, Channel] | None = None


def channels() -> dict[str, Channel]:
    """The channel registry (composition root): all four channels, built once per process."""
    global _channels
    if _channels is None:
        from relay.settings import get_settings

        _channels = {**channels_from_settings(get_settings()), "inapp": InAppChannel()}
    return _channels


def use_channels(registry: dict[str, Channel] | None) -> None:
    """Replace the registry (tests, benchmarks); None rebuilds it from settings."""
    global _channels
    _channels = registry


@dataclass(frozen=True)
class Claim:
    id: uuid.UUID
    token: uuid.UUID
    channel: str
    event: OrderEvent


def deliver(notification_id: uuid.UUID) -> str:
    """Process one delivery of a notification message; returns the outcome for logs/tests:
    sent | retry | fallback | waiting | dead_letter | duplicate | busy | parked | ..."""
    claim = _claim(notification_id)
    if isinstance(claim, str):
        return claim
    result = attempt(claim)
    if result.error is not None:
        return _failed(claim, result.error, result.started, result.clock)
    return _sent(claim, result.accepted, result.started, result.sent_at, result.clock)


@dataclass(frozen=True)
class Attempt:
    claim: Claim
    started: datetime
    clock: float
    accepted: object = None
    sent_at: datetime | None = None
    error: ChannelError | None = None


def attempt(claim: Claim, composer=None) -> Attempt:
    """Render and hand one claimed message to its channel; every failure becomes a
    ChannelError (the one mapping, shared by single and batch sends; a batch passes its
    own `composer`)."""
    started = datetime.now(UTC)
    clock = time.perf_counter()
    try:
        message = (composer or compose)(claim.channel, str(claim.id), claim.event)
        accepted = channels()[claim.channel].send(message)
    except ChannelError as error:
        return Attempt(claim, started, clock, error=error)
    except (RenderError, ValidationError) as exc:
        error = PermanentChannelError(claim.channel, "invalid_message", str(exc)[:300])
        return Attempt(claim, started, clock, error=error)
    except Exception as exc:  # a bug or an outage of ours: retry within the budget
        log.exception("notification.send_crashed", notification_id=str(claim.id))
        error = TransientChannelError(claim.channel, "internal_error", type(exc).__name__)
        return Attempt(claim, started, clock, error=error)
    return Attempt(claim, started, clock, accepted=accepted, sent_at=datetime.now(UTC))


def deliver_promotion(notification_id: uuid.UUID) -> str:
    """A promotion first yields to order updates: while transactional messages wait in
    the broker, its thread sleeps (no CPU, no DB connection), for at most
    PROMO_YIELD_MAX_SECONDS, so a promotion burst cannot starve order updates of CPU."""
    wait_for_orders()
    return deliver(notification_id)


def wait_for_orders() -> None:
    """Sleep while order updates wait in Redis, at most PROMO_YIELD_MAX_SECONDS."""
    give_up_at = time.monotonic() + policy.promo_yield_seconds()
    while time.monotonic() < give_up_at and _orders_waiting():
        time.sleep(0.2)


_backlog_seen = (0.0, False)


def _orders_waiting() -> bool:
    """Transactional messages waiting in Redis (LLEN), or recently picked up late
    (notifications/lateness.py); cached for 0.2 s per process."""
    global _backlog_seen
    checked_at, waiting = _backlog_seen
    if time.monotonic() - checked_at > 0.2:
        from relay.brokerinfo import queue_depth

        depths = [queue_depth(q) for q in (Queues.TRANSACTIONAL, Queues.EXPEDITE)]
        waiting = any(d for d in depths if d) or lateness.orders_late()
        _backlog_seen = (time.monotonic(), waiting)
    return waiting


def _claim(notification_id: uuid.UUID) -> Claim | str:
    token = uuid.uuid4()
    row = store.fast_claim(notification_id, token, policy.claim_seconds())
    if row is not None:
        lateness.report(row.get("waited_s"))   # absent before migration 0330
        return Claim(notification_id, token, row["channel"],
                     OrderEvent.model_validate(row["payload"]))
    return _claim_deciding(notification_id)


def _claim_deciding(notification_id: uuid.UUID) -> Claim | str:
    """Every other case, under the row lock: finished, standby, busy, a lapsed claim,
    an expired event, a promotion in quiet hours, or a claim."""
    now = datetime.now(UTC)
    with transaction() as tx:
        row = store.lock_for_claim(tx, notification_id)
        if row is None:
            log.warning("notification.unknown", notification_id=str(notification_id))
            outbox.complete(tx, notification_id)
            return "unknown"
        if row["state"] in FINAL_STATES:
            outbox.complete(tx, notification_id)
            return "duplicate"
        if row["state"] == "standby":
            return "standby"  # not active: a stray message; activation publishes it again
        if row["state"] == "sending":
            if row["claimed_until"] > now:
                return "busy"  # another worker is mid-send; it completes the outbox row
            attempts.record(tx.conn, kind=KIND, entity_id=notification_id, started_at=now,
                            outcome="claim_expired", detail=f"{row['channel']} claim lapsed")
        if row["campaign_state"] == "cancelled":
            _set_final(tx, notification_id, "suppressed", "cancelled")
            return "cancelled"
        if row["campaign_state"] == "paused":   # resume wakes it (campaigns/store.py)
            store.release(tx, notification_id)
            outbox.park_until(tx, notification_id, None, "campaign_paused")
            return "paused"
        event = OrderEvent.model_validate(row["payload"])
        if event.expires is not None and event.expires <= now:
            _set_final(tx, notification_id, "suppressed", "expired")
            return "expired"
        if event.is_promotion:
            wait = policy.quiet_wait_seconds(event.country, now)
            if wait:
                store.mark_quiet_hours(tx, notification_id)
                outbox.park_until(tx, notification_id, wait, "quiet_hours")
                return "parked"
        token = uuid.uuid4()
        store.claim(tx, notification_id, token, policy.claim_seconds())
    return Claim(notification_id, token, row["channel"], event)


def _set_final(tx: Tx, notification_id: uuid.UUID, state: str, reason: str) -> None:
    store.set_final(tx, notification_id, state, reason)
    outbox.complete(tx, notification_id)


def _elapsed_ms(clock: float) -> float:
    return round((time.perf_counter() - clock) * 1000, 1)


def _sent(claim: Claim, accepted, started: datetime, sent_at: datetime, clock: float) -> str:
    row = store.record_sent(
        claim.id, sent_at, accepted.provider_message_id, started, _elapsed_ms(clock),
        accepted.status,
        attempts.clean_detail(f"{claim.channel} accepted {accepted.provider_message_id}"))
    if row["outcome"] == "unknown":
        log.warning("notification.unknown", notification_id=str(claim.id))
        return "unknown"
    if row["outcome"] == "duplicate_send":
        log.warning("notification.sent_twice", notification_id=str(claim.id))
        return "duplicate_send"
    log.info("notification.sent", notification_id=str(claim.id), channel=claim.channel,
             event_type=row["event_type"], late=sent_at > row["deadline"])
    metrics.provider_requests_total.labels(claim.channel, "accepted").inc()
    observe_sent(claim.channel, row["event_type"], sent_at, row["deadline"])
    return "sent"


def _failed(claim: Claim, error: ChannelError, started: datetime, clock: float) -> str:
    now = datetime.now(UTC)
    metrics.provider_requests_total.labels(
        claim.channel, "transient" if error.transient else "permanent").inc()
    with transaction() as tx:
        row = store.relock(tx, claim.id)
        attempts.record(tx.conn, kind=KIND, entity_id=claim.id, started_at=started,
                        outcome="transient" if error.transient else "permanent",
                        latency_ms=_elapsed_ms(clock), status_code=error.status,
                        detail=f"{claim.channel}: {error.reason} {error.detail}".strip())
        if row["state"] != "sending" or row["claim_token"] != claim.token:
            return "stale"  # our claim lapsed and someone else owns the row now
        if error.alert:
            _alert_config(tx, claim, error, row)
        if not error.transient:
            return give_up(tx, claim.id, row, error.reason, error)
        step = planning.after_transient(
            attempts=row["attempts"], active_since=row["activated_at"], now=now,
            deadline=row["deadline"], transactional=row["event_type"] != "promotion",
            policy=policy.retry_policy(), retry_after=error.retry_after)
        if step.action == "fallback":
            return give_up(tx, claim.id, row, step.reason, error)
        store.back_to_pending(tx, claim.id, error.reason)
        outbox.retry_in(tx, claim.id, step.delay_s, reason=error.reason)
    return "retry"


def _alert_config(tx: Tx, claim: Claim, error: ChannelError, row: dict) -> None:
    text = (f"{claim.channel} rejected our configuration: *{error.reason}*"
            + (f" (status {error.status})" if error.status else "")
            + ". Notifications keep retrying, then fall back.")
    fields = {"channel": claim.channel, "reason": error.reason, "brand": row["brand"]}
    tx.after_commit(lambda: alerts.alert(
        f"notifications.channel_config.{claim.channel}",
        f"Notification channel misconfigured: {claim.channel}", text, "error", fields,
        label=error.reason, noun=f"{claim.channel} configuration errors"))
