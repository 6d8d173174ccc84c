"""What happens once per breached order event: the delay notice, the escalation of a
customer who keeps waiting, and the on-call alert. Called by the SLA check
(check.py) inside the transaction that claimed the breach.

- `claim_breaches`: INSERT into `sla_breaches` ON CONFLICT DO NOTHING — the event's first
  breach wins; a fallback row breaching later, or a second checker, gets nothing.
- `after_breach`: under a per-customer advisory lock (taken in customer order, so two
  checkers cannot deadlock), at most one delay notice per order per 24 h and one
  escalation per customer per 24 h.
- The delay notice is an event of its own (`delay:<event id>`, type `delay_notice`, the
  original payload otherwise) on the customer's channels that have not failed for the
  breached event, first one pending, the rest standby fallbacks, published on
  notify.expedite. The normal send path renders the `delay_notice` templates.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from notifications.producer import KIND, TASKS
from notifications.store import breaches as store
from relay import alerts, metrics, outbox
from relay.db import Tx
from relay.logs import get_logger
from relay.names import Queues

log = get_logger(__name__)

NOTICE_EVERY = timedelta(hours=24)     # one delay notice per order within this
ESCALATION_WINDOW = timedelta(hours=24)
_NOT_WORKING = ("failed", "suppressed", "skipped")


@dataclass(frozen=True)
class Outcome:
    delay_channel: str | None = None
    delay_skipped: str | None = None
    escalated: int | None = None      # breaches counted when this breach escalated


def claim_breaches(tx: Tx, notification_ids: list[uuid.UUID], now: datetime) -> list[dict]:
    """Record the breached events not yet recorded; return those (sorted by customer)."""
    if not notification_ids:
        return []
    rows = store.claim(tx, notification_ids, now)
    return sorted(rows, key=lambda r: (r["customer_id"], r["deadline"]))


def after_breach(tx: Tx, breach: dict, now: datetime, cfg) -> Outcome:
    store.lock_customer(tx, breach["customer_id"])
    channel, skipped = send_notice(tx, breach, now, cfg.sla_s)
    escalated = escalate(tx, breach, now, cfg.escalate_after)
    return Outcome(channel, skipped, escalated)


def notice_event_id(event_id: str) -> str:
    """Derived, never random: the same breach always names the same notice (<= 200 chars)."""
    if len(event_id) <= 190:
        return f"delay:{event_id}"
    return "delay:" + hashlib.sha256(event_id.encode()).hexdigest()[:40]


def send_notice(tx: Tx, breach: dict, now: datetime, sla_s: float) -> tuple[str | None, str | None]:
    """Create and publish the delay notice; returns (channel, None) or (None, why not)."""
    skipped = _why_not(tx, breach, now)
    channels = [] if skipped else _notice_channels(tx, breach["event_id"])
    if not skipped and not channels:
        skipped = "no_working_channel"
    if not skipped:
        skipped = _create_notice(tx, breach, channels, now, sla_s)
    store.set_notice(tx, breach["event_id"],
                     None if skipped else notice_event_id(breach["event_id"]),
                     None if skipped else channels[0], skipped)
    if skipped:
        return None, skipped
    metrics.sla_delay_notices_total.labels(channels[0]).inc()
    return channels[0], None


def _notice_channels(tx: Tx, event_id: str) -> list[str]:
    """The event's channels that have not failed, in order; for a dead-lettered event
    (every channel failed) the failed ones: the notice is another message, and a failure
    of one message (a template, a provider's bad hour) need not be one of the next."""
    rows = store.channel_states(tx, event_id)
    working = [r["channel"] for r in rows if r["state"] not in _NOT_WORKING]
    return working or [r["channel"] for r in rows if r["state"] == "failed"]


def _why_not(tx: Tx, breach: dict, now: datetime) -> str | None:
    recent = store.notified_since(tx, breach["order_id"], breach["event_id"],
                                  now - NOTICE_EVERY)
    return "order_already_notified" if recent else None


def _create_notice(tx: Tx, breach: dict, channels: list[str], now: datetime,
                   sla_s: float) -> str | None:
    original = store.original_event(tx, breach["event_id"])
    payload = original["payload"]
    if isinstance(payload, str):
        payload = json.loads(payload)
    event_id = notice_event_id(breach["event_id"])
    deadline = now + timedelta(seconds=sla_s)
    payload = {**payload, "event_id": event_id, "type": "delay_notice",
               "occurred_at": now.isoformat(), "expires": None}
    created = store.insert_notice_event(tx, event_id, breach, original["locale"], now,
                                        deadline, payload)
    if not created:
        return "notice_exists"
    ids = [uuid.uuid4() for _ in channels]
    for rank, (nid, channel) in enumerate(zip(ids, channels, strict=True)):
        store.insert_notice_row(tx, nid, event_id, channel, rank, breach,
                                Queues.TRANSACTIONAL, now, deadline)
    outbox.add(tx, KIND, ids[0], TASKS[Queues.TRANSACTIONAL], Queues.EXPEDITE)
    return None


def escalate(tx: Tx, breach: dict, now: datetime, after: int) -> int | None:
    """Flag the customer for personal follow-up at `after` breaches within 24 h (once per
    24 h). Returns the breach count when this call opened the flag."""
    since = now - ESCALATION_WINDOW
    count, event_ids = store.recent_breaches(tx, breach["customer_id"], since)
    if count < after or store.escalated_since(tx, breach["customer_id"], since):
        return None
    store.open_escalation(tx, breach["customer_id"], breach["brand"], count, event_ids, now)
    metrics.sla_escalations_total.inc()
    return count


def alert_breach(breach: dict, outcome: Outcome, cfg) -> str:
    """After commit: the breach alert (one post per burst, then a summary by event type)
    and, when it escalated, the follow-up alert. The breach row is marked `alerted_at`
    once the post is done (or counted into the burst summary, or logged with no webhook
    set); a failed post leaves it for the next check to post again."""
    hours = cfg.sla_s / 3600
    notice = (f"delay notice sent via {outcome.delay_channel}" if outcome.delay_channel
              else f"no delay notice ({outcome.delay_skipped})")
    posted = alerts.alert(
        "sla.breach", "Order notification SLA breached",
        f"{breach['event_type']} for order {breach['order_id']} is still unsent "
        f"{hours:g} h after the event ({breach['channel']}, {breach['brand']}/"
        f"{breach['country']}); {notice}.", "error",
        {"event_type": breach["event_type"], "channel": breach["channel"],
         "brand": breach["brand"], "country": breach["country"],
         "order_id": breach["order_id"], "notification_id": str(breach["notification_id"]),
         "breach": breach["event_id"]},
        label=breach["event_type"], noun="SLA breaches")
    if posted != "failed":
        _mark_alerted(breach["event_id"])
    if outcome.escalated:
        alerts.alert(
            "sla.escalation", "Customer needs a personal follow-up",
            f"Customer {breach['customer_id']} ({breach['brand']}) had {outcome.escalated} "
            f"late notifications within 24 h (threshold {cfg.escalate_after}). "
            "Flagged in sla_escalations.", "error",
            {"customer_id": breach["customer_id"], "brand": breach["brand"],
             "breaches": outcome.escalated}, label=breach["brand"], noun="escalations")
    return posted


def _mark_alerted(event_id: str) -> None:
    try:
        store.mark_alerted(event_id)
    except Exception as exc:  # the alert went out; at worst the next check repeats it
        log.warning("sla.breach_alert_unmarked", error=repr(exc))
