"""Intake: order events in, notification rows and outbox rows out, in one transaction.

`record_order_event(event)` validates, then commits the event, one notification row per
planned channel (pending / standby / suppressed with its reason) and an outbox row for
each pending one; the task message (only the notification id) is published after commit.
A repeated `event_id` writes nothing and returns the rows the first call created.

`record_order_events(events)` is the bulk form: everything is validated before anything
is written; events go in through COPY into a staging table and one
`INSERT … ON CONFLICT DO NOTHING` (so duplicates — repeated or concurrent — are skipped
without failing the batch), notifications through COPY, the outbox through
`outbox.add_many` (one batched publish).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from notifications import planning, policy
from notifications.models import STAGES, OrderEvent, parse_event
from notifications.store import intake as store
from relay import outbox
from relay.db import Tx, transaction
from relay.logs import get_logger
from relay.names import Queues, Tasks

log = get_logger(__name__)

KIND = "notification"
TRANSACTIONAL_QUEUE = Queues.TRANSACTIONAL
PROMOTIONS_QUEUE = Queues.PROMOTIONS
TASKS = {TRANSACTIONAL_QUEUE: Tasks.SEND_NOTIFICATION, PROMOTIONS_QUEUE: Tasks.SEND_PROMOTION}
# A campaign's promotions travel many ids per task (notifications/campaigns/sending.py).
# 200: each batch is one claim and one outcome statement; larger batches bought nothing
# more and hold more claims per task.
CAMPAIGN_TASK = Tasks.SEND_PROMOTION_BATCH
CAMPAIGN_BATCH = 200
outbox.batched_task(CAMPAIGN_TASK, CAMPAIGN_BATCH)


@dataclass(frozen=True)
class Notification:
    id: uuid.UUID
    event_id: str
    channel: str
    state: str
    reason: str | None
    queue: str
    deadline: datetime

    def as_dict(self) -> dict:
        return {"id": str(self.id), "event_id": self.event_id, "channel": self.channel,
                "state": self.state, "reason": self.reason, "queue": self.queue,
                "deadline": self.deadline.isoformat()}


@dataclass
class Intake:
    """What a bulk call did: new events, repeated ones, the notifications it created."""

    events: int = 0
    new_events: int = 0
    duplicates: int = 0
    notifications: list[Notification] = field(default_factory=list)

    def by_state(self) -> dict[str, int]:
        return dict(Counter(n.state for n in self.notifications))

    def suppressed_by_reason(self) -> dict[str, int]:
        return dict(Counter(n.reason for n in self.notifications if n.state == "suppressed"))


def queue_for(event: OrderEvent) -> str:
    return PROMOTIONS_QUEUE if event.is_promotion else TRANSACTIONAL_QUEUE


def record_order_event(event: dict | OrderEvent) -> list[Notification]:
    """Validate and record one event; returns its notifications (the existing ones for a
    repeated event_id). Raises InvalidInput naming the field; nothing is written then."""
    parsed = parse_event(event)
    intake = record_order_events([parsed])
    if intake.new_events:
        return intake.notifications
    with transaction() as tx:
        return existing(tx, parsed.event_id)


def record_order_events(events: Iterable[dict | OrderEvent], *,
                        campaign_id: str | None = None) -> Intake:
    """Validate every event, then record the new ones in one transaction (see module doc).
    InvalidInput names the event by position (`event 3: customer.email`).

    With `campaign_id` (a campaign's audience) the rows are tagged with the campaign and
    published in batches of CAMPAIGN_BATCH ids per task."""
    parsed: dict[str, OrderEvent] = {}
    count = 0
    for index, doc in enumerate(events):
        event = parse_event(doc, where=f"event {index}")
        parsed.setdefault(event.event_id, event)
        count += 1
    intake = Intake(events=count)
    if not parsed:
        return intake
    now = datetime.now(UTC)
    sla = timedelta(seconds=policy.sla_seconds())
    with transaction() as tx:
        events = list(parsed.values())
        history = _order_history(tx, events)   # read before this batch is written
        new_ids = store.insert_events(tx, [_event_row(e, sla) for e in events])
        fresh = [e for e in events if e.event_id in new_ids]
        for event in fresh:   # a batch may hold several stages of one order
            if event.order_id and event.type in STAGES:
                history[event.order_id].append((event.type.value, event.occurred_at))
        rows = []   # (event, planned row, notification id, queue)
        for event in fresh:
            queue = queue_for(event)
            superseded = planning.is_superseded(event, history.get(event.order_id, ()))
            for planned in planning.plan(event, now, superseded=superseded):
                rows.append((event, planned, uuid.uuid4(), queue))
        _copy_notifications(tx, rows, sla, campaign_id)
        outbox.add_many(tx, KIND, [(nid, CAMPAIGN_TASK if campaign_id else TASKS[queue], queue)
                                   for _, p, nid, queue in rows if p.state == planning.PENDING])
    intake.new_events = len(fresh)
    intake.duplicates = count - len(fresh)
    intake.notifications = [
        Notification(nid, e.event_id, p.channel, p.state, p.reason, queue, e.occurred_at + sla)
        for e, p, nid, queue in rows]
    log.info("notifications.recorded", events=count, new=len(fresh),
             duplicates=intake.duplicates, notifications=len(rows))
    return intake


def _event_row(event: OrderEvent, sla: timedelta) -> tuple:
    return (event.event_id, event.type.value, event.order_id, event.customer.customer_id,
            event.brand, event.country, event.locale, event.occurred_at,
            event.occurred_at + sla, event.expires, event.model_dump_json())


def _order_history(tx: Tx, events: list[OrderEvent]) -> dict[str, list[tuple[str, datetime]]]:
    """(type, occurred_at) of every staged event already recorded for these orders (a
    defaultdict: the caller adds the batch's own)."""
    order_ids = list({e.order_id for e in events if e.order_id and e.type in STAGES})
    history: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    if not order_ids:
        return history
    for row in store.stages_of_orders(tx, order_ids, [t.value for t in STAGES]):
        history[row["order_id"]].append((row["type"], row["occurred_at"]))
    return history


def _copy_notifications(tx: Tx, rows: list, sla: timedelta,
                        campaign_id: str | None = None) -> None:
    if not rows:
        return
    now = datetime.now(UTC)
    store.copy_notifications(tx, (
        (nid, event.event_id, planned.channel, planned.rank, event.type.value,
         event.order_id, event.customer.customer_id, event.brand, event.country, queue,
         planned.state, planned.reason, event.occurred_at, event.occurred_at + sla,
         now if planned.state == planning.PENDING else None, campaign_id)
        for event, planned, nid, queue in rows))


def existing(tx: Tx, event_id: str) -> list[Notification]:
    return [Notification(**r) for r in store.notifications_of_event(tx, event_id)]
