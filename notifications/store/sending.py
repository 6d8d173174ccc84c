"""SQL of sending one notification (notifications/service.py), falling back
(notifications/fallback.py) and replaying a dead letter (notifications/oncall.py).

Every function that changes a row, bar `fast_claim` and `record_sent` (one autocommit
statement each), expects the caller's transaction to hold the row lock (`lock_for_claim`
or `relock`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from relay import attempts
from relay.db import Tx, run_one

# The common case in one autocommit statement (relay/sql/notifications.sql): a pending
# order update with nothing to decide first; otherwise no row, and the careful path.
_FAST_CLAIM = "SELECT * FROM notification_claim(%(id)s, %(token)s, %(lease)s)"


def fast_claim(notification_id: uuid.UUID, token: uuid.UUID, lease_s: float) -> dict | None:
    """-> {channel, payload} when claimed in one statement; None: take the slow path."""
    return run_one(_FAST_CLAIM, {"id": notification_id, "token": token, "lease": lease_s})


def lock_for_claim(tx: Tx, notification_id: uuid.UUID) -> dict | None:
    """Lock the row; -> the row with its event's `payload` and its `campaign_state`."""
    return tx.execute(
        """SELECT n.*, e.payload, c.state AS campaign_state
           FROM notifications n JOIN order_events e USING (event_id)
           LEFT JOIN campaigns c ON c.id = n.campaign_id
           WHERE n.id = %s FOR UPDATE OF n""", (notification_id,)).fetchone()


def claim(tx: Tx, notification_id: uuid.UUID, token: uuid.UUID, lease_s: float) -> None:
    """pending -> sending under `token` for `lease_s`; a quiet-hours mark is cleared."""
    tx.execute(
        """UPDATE notifications SET state = 'sending', claim_token = %s,
                  claimed_until = now() + make_interval(secs => %s),
                  attempts = attempts + 1, activated_at = coalesce(activated_at, now()),
                  reason = CASE WHEN reason = 'quiet_hours' THEN NULL ELSE reason END,
                  updated_at = now()
           WHERE id = %s""", (token, lease_s, notification_id))


def release(tx: Tx, notification_id: uuid.UUID) -> None:
    """Back to pending without a claim (its campaign is paused)."""
    tx.execute("""UPDATE notifications SET state = 'pending', claim_token = NULL,
                  claimed_until = NULL, updated_at = now() WHERE id = %s""",
               (notification_id,))


def mark_quiet_hours(tx: Tx, notification_id: uuid.UUID) -> None:
    tx.execute("""UPDATE notifications SET state = 'pending', reason = 'quiet_hours',
                  updated_at = now() WHERE id = %s""", (notification_id,))


def set_final(tx: Tx, notification_id: uuid.UUID, state: str, reason: str) -> None:
    tx.execute("""UPDATE notifications SET state = %s, reason = %s, claim_token = NULL,
                  claimed_until = NULL, updated_at = now() WHERE id = %s""",
               (state, reason, notification_id))


def relock(tx: Tx, notification_id: uuid.UUID) -> dict:
    """Lock the row again for the outcome; -> what the outcome needs."""
    return tx.execute(
        """SELECT state, claim_token, attempts, activated_at, deadline, event_id, event_type,
                  queue, brand, country, channel FROM notifications WHERE id = %s FOR UPDATE""",
        (notification_id,)).fetchone()


def record_sent(notification_id: uuid.UUID, sent_at: datetime, provider_message_id: str,
                started_at: datetime, latency_ms: float, status, detail: str) -> dict:
    """The accepted send as one statement and one transaction (`notification_sent`,
    relay/sql/notifications.sql): attempt recorded, row sent, standby fallbacks skipped, outbox row
    finished. -> {outcome: sent | duplicate_send | unknown, event_type, deadline}."""
    return run_one("SELECT * FROM notification_sent(%s, %s, %s, %s, %s, %s, %s, %s)",
                   (notification_id, sent_at, provider_message_id, started_at, latency_ms,
                    status, detail, attempts.worker_name()))


def back_to_pending(tx: Tx, notification_id: uuid.UUID, last_error: str) -> None:
    """A transient failure within budget: pending again, the claim released."""
    tx.execute(
        """UPDATE notifications SET state = 'pending', claim_token = NULL,
                  claimed_until = NULL, last_error = %s, updated_at = now() WHERE id = %s""",
        (last_error, notification_id))


# -- fallback ---------------------------------------------------------------------------
def mark_failed(tx: Tx, notification_id: uuid.UUID, reason: str, last_error: str) -> None:
    tx.execute(
        """UPDATE notifications SET state = 'failed', reason = %s, last_error = %s,
                  claim_token = NULL, claimed_until = NULL, updated_at = now() WHERE id = %s""",
        (reason, last_error, notification_id))


def lock_next_standby(tx: Tx, event_id: str) -> dict | None:
    """The event's first standby row, locked; -> {id, channel, queue} or None."""
    return tx.execute(
        """SELECT id, channel, queue FROM notifications WHERE event_id = %s AND state = 'standby'
           ORDER BY rank LIMIT 1 FOR UPDATE""", (event_id,)).fetchone()


def activate(tx: Tx, notification_id: uuid.UUID, reason: str) -> None:
    tx.execute(
        """UPDATE notifications SET state = 'pending', activated_at = now(), reason = %s,
                  updated_at = now() WHERE id = %s""", (reason, notification_id))


def lock_failed_with(tx: Tx, event_id: str, reasons: list[str]) -> list[dict]:
    """The event's rows that failed with one of `reasons`, locked, in plan order;
    -> [{id, channel, queue, rounds, created_at}]."""
    return tx.execute(
        """SELECT id, channel, queue, rounds, created_at FROM notifications
           WHERE event_id = %s AND state = 'failed' AND reason = ANY(%s)
           ORDER BY rank FOR UPDATE""", (event_id, reasons)).fetchall()


def to_standby(tx: Tx, notification_ids: list[uuid.UUID], round_: int) -> None:
    tx.execute(
        """UPDATE notifications SET state = 'standby', rounds = %s, updated_at = now()
           WHERE id = ANY(%s)""", (round_, notification_ids))


def reset_for_replay(tx: Tx, notification_id: uuid.UUID) -> bool:
    """A failed (or stuck) row is pending again with a fresh attempt budget; False when
    there is no such row."""
    return tx.execute(
        """UPDATE notifications SET state = 'pending', reason = 'replayed', attempts = 0,
                  activated_at = now(), claim_token = NULL, claimed_until = NULL,
                  updated_at = now()
           WHERE id = %s AND state IN ('failed', 'pending', 'sending') RETURNING id""",
        (notification_id,)).fetchone() is not None
