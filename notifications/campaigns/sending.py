"""Sending a batch of a campaign's promotions: the per-message work done once per batch.

    deliver_batch(ids):
      1. which campaigns the ids belong to, and their rate limits (one query);
      2. per chunk (at most one second of the campaign's tokens): wait for order updates
         to drain (as single promotions do), take the campaign's tokens, then
      3. claim the chunk in ONE statement: rows pending, campaign running, not expired,
         not in quiet hours (the countries in quiet hours now are computed here and
         passed in) → sending, with a claim token, exactly as service._claim does;
      4. ids that statement did not claim are sorted in one query: finished → outbox
         done; campaign cancelled → suppressed; paused → parked until resume; anything
         else (quiet hours, expiry, a lapsed claim) → the single-message path
         (service.deliver), which decides under the row lock;
      5. take the providers' tokens, then render (the campaign's parts rendered once,
         compose.py) and send every claimed message on the process's sender threads
         (each keeps its SMTP connection open; HTTP channels reuse their keep-alive
         session), concurrently;
      6. record every accepted send in ONE statement (notifications_sent_batch); a failure
         goes through service._failed, the same retry/fallback as a single send.

A chunk is claimed only after its tokens are granted, so a throttled campaign does not
hold claims while it waits. A task that has run BATCH_BUDGET_S re-publishes the ids it has
not reached (their outbox rows stay published; the sweep is the backstop).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from notifications import policy, service
from notifications.campaigns import compose, store, throttle
from notifications.models import Campaign, Customer, EventType, OrderEvent
from notifications.producer import PROMOTIONS_QUEUE
from notifications.sla.counters import observe_sent
from relay import attempts, metrics, outbox
from relay.db import transaction
from relay.logs import get_logger

log = get_logger(__name__)

BATCH_BUDGET_S = 20.0          # well inside the task time limit (OUTBOX_LEASE_SECONDS)
CAMPAIGN_MAX_WAIT_S = 10.0     # longer than this for tokens: re-publish with a countdown
FINAL = tuple(service.FINAL_STATES)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def senders() -> ThreadPoolExecutor:
    """The process's sender threads (PROMO_SEND_CONCURRENCY): shared by every batch task,
    so the number of open provider connections stays bounded whatever the task count."""
    global _pool
    with _pool_lock:
        if _pool is None:
            from relay.settings import get_settings

            _pool = ThreadPoolExecutor(get_settings().promo_send_concurrency,
                                       thread_name_prefix="relay-sender")
        return _pool


def deliver_batch(ids: list[uuid.UUID]) -> Counter:
    """Send what is sendable among `ids`; returns outcome counts (logs, tests)."""
    outcomes: Counter = Counter()
    begun = time.monotonic()
    rate = _campaign_rate(ids)
    chunk = throttle.capacity(rate[1]) if rate else len(ids)
    for start in range(0, len(ids), max(1, chunk)):
        part = ids[start:start + chunk]
        if time.monotonic() - begun > BATCH_BUDGET_S:
            outcomes["republished"] += _republish(ids[start:], None)
            break
        service.wait_for_orders()
        if rate:
            grant = throttle.buckets().take(throttle.campaign_key(rate[0]), rate[1],
                                            len(part), CAMPAIGN_MAX_WAIT_S)
            if not grant.granted:
                outcomes["throttled"] += _republish(ids[start:], min(grant.wait_s, 60.0))
                break
            time.sleep(grant.wait_s)
        outcomes.update(_deliver_chunk(part))
    log.info("campaign.batch", size=len(ids), **dict(outcomes))
    return outcomes


def _campaign_rate(ids: list[uuid.UUID]) -> tuple[str, float] | None:
    """(campaign id, max_per_second) of the batch's throttled campaign, if any (a batch
    holds one campaign's rows; should the sweep mix some, the slowest limit applies)."""
    return store.slowest_rate(ids)


def _republish(ids: list[uuid.UUID], countdown: float | None) -> int:
    from notifications.producer import CAMPAIGN_TASK

    outbox.publish_now([outbox.Publication(i, CAMPAIGN_TASK, PROMOTIONS_QUEUE, countdown)
                        for i in ids])
    return len(ids)


def _deliver_chunk(ids: list[uuid.UUID]) -> Counter:
    token = uuid.uuid4()
    with transaction() as tx:
        rows = store.claim_batch(tx, ids, token, policy.claim_seconds(),
                                 policy.quiet_countries(datetime.now(UTC)))
    claims = [service.Claim(r["id"], token, r["channel"], _event(r["payload"])) for r in rows]
    claimed = {c.id for c in claims}
    outcomes = _sort_unclaimed([i for i in ids if i not in claimed])
    if claims:
        _take_provider_tokens(claims)
        results = list(senders().map(_attempt, claims))
        outcomes.update(_record(results))
    return outcomes


def _attempt(claim: service.Claim) -> service.Attempt:
    """A single send's attempt, rendered from the campaign's cached parts (compose.py)."""
    return service.attempt(claim, composer=compose.compose)


def _event(payload: dict) -> OrderEvent:
    """The stored payload, validated at intake and written by us, built without validating
    it again: email-validator and the country/locale checks cost more than the send."""
    customer = Customer.model_construct(**payload["customer"])
    campaign = Campaign.model_construct(**payload["campaign"]) if payload.get("campaign") \
        else None
    return OrderEvent.model_construct(**{
        **payload, "type": EventType(payload["type"]), "customer": customer,
        "campaign": campaign, "occurred_at": datetime.fromisoformat(payload["occurred_at"]),
        "expires": datetime.fromisoformat(payload["expires"]) if payload.get("expires")
        else None})


def _sort_unclaimed(ids: list[uuid.UUID]) -> Counter:
    """What the claim statement passed over, decided in bulk where it can be."""
    outcomes: Counter = Counter()
    if not ids:
        return outcomes
    with transaction() as tx:
        rows = store.batch_states(tx, ids)
        by_id = {r["id"]: r for r in rows}
        final = [r["id"] for r in rows if r["state"] in FINAL]
        cancelled = [r["id"] for r in rows if r["campaign_state"] == "cancelled"
                     and r["state"] in ("pending", "standby")]
        paused = [r["id"] for r in rows if r["campaign_state"] == "paused"
                  and r["state"] == "pending"]
        if final:
            store.finish_outbox(tx, final)
        if cancelled:
            store.cancel_rows(tx, cancelled)
        if paused:   # parked only while the campaign is still paused (resume wakes them)
            store.park_paused(tx, paused)
    outcomes.update(duplicate=len(final), cancelled=len(cancelled), paused=len(paused))
    standby = [i for i in ids if i in by_id and by_id[i]["state"] == "standby"
               and i not in cancelled]
    outcomes["standby"] += len(standby)
    handled = set(final) | set(cancelled) | set(paused) | set(standby)
    for notification_id in ids:   # quiet hours, expiry, a lapsed claim, unknown ids
        if notification_id not in handled:
            outcomes[service.deliver(notification_id)] += 1
    return outcomes


def _take_provider_tokens(claims: list[service.Claim]) -> None:
    rate = policy.provider_max_rps()
    if not rate:
        return
    for channel, n in Counter(c.channel for c in claims).items():
        while n > 0:   # at most one second of tokens per call; sleep the reservation
            take = min(n, throttle.capacity(rate))
            grant = throttle.buckets().take(throttle.provider_key(channel), rate, take,
                                            policy.claim_seconds() / 2)
            time.sleep(min(grant.wait_s, policy.claim_seconds() / 2))
            n -= take


def _record(results: list[service.Attempt]) -> Counter:
    outcomes: Counter = Counter()
    sent = [r for r in results if r.error is None]
    for failed in (r for r in results if r.error is not None):
        outcomes[service._failed(failed.claim, failed.error, failed.started, failed.clock)] += 1
    if not sent:
        return outcomes
    worker = attempts.worker_name()
    now = time.perf_counter()
    rows = store.record_sent(
        ([r.claim.id for r in sent], [r.sent_at for r in sent],
         [r.accepted.provider_message_id for r in sent], [r.started for r in sent],
         [round((now - r.clock) * 1000, 1) for r in sent],
         [r.accepted.status for r in sent],
         [attempts.clean_detail(f"{r.claim.channel} accepted "
                                f"{r.accepted.provider_message_id}") for r in sent],
         worker))
    by_id = {r.claim.id: r for r in sent}
    for row in rows:
        outcomes[row["outcome"]] += 1
        if row["outcome"] == "sent":
            observe_sent(row["channel"], row["event_type"], by_id[row["id"]].sent_at,
                         row["deadline"])
        else:
            log.warning("notification.sent_twice", notification_id=str(row["id"]))
    for channel, n in Counter(r.claim.channel for r in sent).items():
        metrics.provider_requests_total.labels(channel, "accepted").inc(n)
    return outcomes
