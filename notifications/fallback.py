"""When a channel is done for: the next channel, the next round, or a dead letter.

`give_up()` runs inside the send path's second transaction (notifications/service.py),
under the row lock, after a permanent failure or a transient one past the channel's
budget (planning.after_transient):

1. the row becomes `failed` with the reason; its outbox row is finished;
2. the event's next `standby` channel is activated and published at once (fallback);
3. none left: the channels that failed only transiently go back to `standby` and the
   next round starts with the first of them after a full-jitter backoff
   (planning.after_every_channel) — an outage of every provider is waited out, the wait
   parked in the outbox row (a broker countdown only up to 60 s);
4. none of those either (every channel failed permanently) → dead letter
   `all_channels_failed`; older than NOTIFY_GIVE_UP_SECONDS → dead letter `max_age`.

Only one row of an event is ever active, so only one can be sent; `notification_sent`
(relay/sql/notifications.sql) skips the standby rest.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from notifications import planning, policy
from notifications.channels import ChannelError
from notifications.producer import KIND, TASKS
from notifications.store import sending as store
from relay import deadletters, outbox
from relay.db import Tx
from relay.logs import get_logger
from relay.names import Queues

log = get_logger(__name__)


def give_up(tx: Tx, notification_id: uuid.UUID, row: dict, reason: str,
             error: ChannelError) -> str:
    """This channel is done for now: activate the next standby channel at once; when
    none is left, go round the transiently failed channels again (waiting out an outage),
    or dead-letter."""
    store.mark_failed(tx, notification_id, reason,
                      f"{error.reason} {error.detail}".strip()[:500])
    current = outbox.get(tx.conn, notification_id)
    outbox.complete(tx, notification_id)
    # already late: a fallback keeps its place in line on the expedite queue
    expedite = bool(current and current["queue"] == Queues.EXPEDITE)
    nxt = store.lock_next_standby(tx, row["event_id"])
    if nxt is not None:
        _activate(tx, nxt, f"fallback_from_{row['channel']}:{reason}", expedite, 0.0)
        log.info("notification.fallback", notification_id=str(notification_id),
                 from_channel=row["channel"], to_channel=nxt["channel"], reason=reason)
        return "fallback"
    outcome = _next_round(tx, notification_id, row, error, expedite)
    if outcome is not None:
        return outcome
    deadletters.record(
        tx, kind=KIND, entity_id=notification_id, reason="all_channels_failed",
        status_code=error.status,
        error=f"{row['channel']}: {error.reason} ({reason}) {error.detail}".strip(),
        attempts=row["attempts"], brand=row["brand"], country=row["country"])
    return "dead_letter"


def _activate(tx: Tx, nxt: dict, reason: str, expedite: bool, delay_s: float) -> None:
    store.activate(tx, nxt["id"], reason)
    queue = nxt["queue"]
    if expedite and queue == Queues.TRANSACTIONAL:
        queue = Queues.EXPEDITE
    outbox.schedule(tx, KIND, nxt["id"], TASKS[nxt["queue"]], queue, delay_s,
                    reason=planning.WAITING_OUT if delay_s else "fallback")


def _next_round(tx: Tx, notification_id: uuid.UUID, row: dict, error: ChannelError,
                expedite: bool) -> str | None:
    """No standby channel is left. If some channels failed only transiently, put them
    back on standby and start the next round with the first of them after a backoff
    (planning.after_every_channel); None when there is nothing to wait for."""
    waiting = store.lock_failed_with(tx, row["event_id"], list(planning.TRANSIENT_FALLBACKS))
    if not waiting:
        return None
    round_ = max(r["rounds"] for r in waiting) + 1
    step = planning.after_every_channel(
        round_=round_, first_created=min(r["created_at"] for r in waiting),
        now=datetime.now(UTC), give_up_s=policy.give_up_seconds(),
        policy=policy.retry_policy(), retry_after=error.retry_after)
    if step.action == "give_up":
        deadletters.record(
            tx, kind=KIND, entity_id=notification_id, reason="max_age", status_code=error.status,
            error=f"{row['channel']}: {error.reason} (every channel failing for "
                  f"{policy.give_up_seconds():g} s) {error.detail}".strip(),
            attempts=row["attempts"], brand=row["brand"], country=row["country"])
        return "dead_letter"
    store.to_standby(tx, [r["id"] for r in waiting], round_)
    _activate(tx, waiting[0], planning.WAITING_OUT, expedite, step.delay_s)
    log.info("notification.waiting_out", event_type=row["event_type"], round=round_,
             channels=[r["channel"] for r in waiting], delay_s=round(step.delay_s, 1))
    return "waiting"
