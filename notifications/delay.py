"""What happens once per breached order event: the delay notice, the escalation of a
customer who keeps waiting, and the on-call alert. Called by the SLA check
(notifications/sla.py) inside the transaction that claimed the breach.

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

from notifications.producer import KIND, TASKS, TRANSACTIONAL_QUEUE
from relay import alerts, metrics, outbox
from relay.db import Tx, transaction
from relay.logs import get_logger
from relay.names import Queues

log = get_logger(__name__)

EXPEDITE_QUEUE = Queues.EXPEDITE
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
    rows = tx.execute(
        """INSERT INTO sla_breaches (event_id, notification_id, customer_id, order_id,
                                     event_type, channel, brand, country, deadline,
                                     breached_at, alert_tried_at)
           SELECT event_id, id, customer_id, order_id, event_type, channel, brand, country,
                  deadline, %s, %s
           FROM notifications WHERE id = ANY(%s) AND event_type <> 'delay_notice'
           ORDER BY customer_id, deadline
           ON CONFLICT (event_id) DO NOTHING RETURNING *""",
        (now, now, notification_ids)).fetchall()
    return sorted(rows, key=lambda r: (r["customer_id"], r["deadline"]))


def after_breach(tx: Tx, breach: dict, now: datetime, cfg) -> Outcome:
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
               (f"relay.sla.customer:{breach['customer_id']}",))
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
    tx.execute("""UPDATE sla_breaches SET delay_event_id = %s, delay_channel = %s,
                  delay_skipped = %s WHERE event_id = %s""",
               (None if skipped else notice_event_id(breach["event_id"]),
                None if skipped else channels[0], skipped, breach["event_id"]))
    if skipped:
        return None, skipped
    metrics.sla_delay_notices_total.labels(channels[0]).inc()
    return channels[0], None


def _notice_channels(tx: Tx, event_id: str) -> list[str]:
    """The event's channels that have not failed, in order; for a dead-lettered event
    (every channel failed) the failed ones: the notice is another message, and a failure
    of one message (a template, a provider's bad hour) need not be one of the next."""
    rows = tx.execute("SELECT channel, state FROM notifications WHERE event_id = %s"
                      " ORDER BY rank", (event_id,)).fetchall()
    working = [r["channel"] for r in rows if r["state"] not in _NOT_WORKING]
    return working or [r["channel"] for r in rows if r["state"] == "failed"]


def _why_not(tx: Tx, breach: dict, now: datetime) -> str | None:
    key, value = ("order_id", breach["order_id"]) if breach["order_id"] else (
        "event_id", breach["event_id"])
    recent = tx.execute(
        f"""SELECT 1 FROM sla_breaches WHERE {key} = %s AND delay_event_id IS NOT NULL
            AND breached_at > %s LIMIT 1""", (value, now - NOTICE_EVERY)).fetchone()
    return "order_already_notified" if recent else None


def _create_notice(tx: Tx, breach: dict, channels: list[str], now: datetime,
                   sla_s: float) -> str | None:
    original = tx.execute("SELECT locale, payload FROM order_events WHERE event_id = %s",
                          (breach["event_id"],)).fetchone()
    payload = original["payload"]
    if isinstance(payload, str):
        payload = json.loads(payload)
    event_id = notice_event_id(breach["event_id"])
    deadline = now + timedelta(seconds=sla_s)
    payload = {**payload, "event_id": event_id, "type": "delay_notice",
               "occurred_at": now.isoformat(), "expires": None}
    created = tx.execute(
        """INSERT INTO order_events (event_id, type, order_id, customer_id, brand, country,
                                     locale, occurred_at, deadline, payload)
           VALUES (%s, 'delay_notice', %s, %s, %s, %s, %s, %s, %s, %s::json)
           ON CONFLICT (event_id) DO NOTHING RETURNING event_id""",
        (event_id, breach["order_id"], breach["customer_id"], breach["brand"],
         breach["country"], original["locale"], now, deadline, json.dumps(payload)),
    ).fetchone()
    if created is None:
        return "notice_exists"
    ids = [uuid.uuid4() for _ in channels]
    for rank, (nid, channel) in enumerate(zip(ids, channels, strict=True)):
        tx.execute(
            """INSERT INTO notifications (id, event_id, channel, rank, event_type, order_id,
                   customer_id, brand, country, queue, state, reason, occurred_at, deadline,
                   activated_at, expedited_at)
               VALUES (%s, %s, %s, %s, 'delay_notice', %s, %s, %s, %s, %s, %s, %s, %s, %s,
                       %s, %s)""",
            (nid, event_id, channel, rank, breach["order_id"], breach["customer_id"],
             breach["brand"], breach["country"], TRANSACTIONAL_QUEUE,
             "pending" if rank == 0 else "standby", f"sla_breach:{breach['event_id']}"[:200],
             now, deadline, now if rank == 0 else None, now))
    outbox.add(tx, KIND, ids[0], TASKS[TRANSACTIONAL_QUEUE], EXPEDITE_QUEUE)
    return None


def escalate(tx: Tx, breach: dict, now: datetime, after: int) -> int | None:
    """Flag the customer for personal follow-up at `after` breaches within 24 h (once per
    24 h). Returns the breach count when this call opened the flag."""
    since = now - ESCALATION_WINDOW
    row = tx.execute(
        """SELECT count(*) AS n, array_agg(event_id ORDER BY breached_at) AS events
           FROM sla_breaches WHERE customer_id = %s AND breached_at > %s""",
        (breach["customer_id"], since)).fetchone()
    if row["n"] < after:
        return None
    open_ = tx.execute("""SELECT 1 FROM sla_escalations WHERE customer_id = %s
                          AND opened_at > %s LIMIT 1""",
                       (breach["customer_id"], since)).fetchone()
    if open_:
        return None
    tx.execute(
        """INSERT INTO sla_escalations (customer_id, brand, breaches, event_ids, opened_at)
           VALUES (%s, %s, %s, %s, %s)""",
        (breach["customer_id"], breach["brand"], row["n"], row["events"], now))
    metrics.sla_escalations_total.inc()
    return int(row["n"])


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
        with transaction() as tx:
            tx.execute("UPDATE sla_breaches SET alerted_at = now() WHERE event_id = %s",
                       (event_id,))
    except Exception as exc:  # the alert went out; at worst the next check repeats it
        log.warning("sla.breach_alert_unmarked", error=repr(exc))
