"""The campaigns' SQL. The campaign row's `state` is the switch every worker reads at claim
time; pause and cancel change it and then act on the rows in one statement each."""

from __future__ import annotations

import uuid

from relay.db import Tx, run_all, run_one

CONTROL_STATES = ("running", "paused", "cancelled")


def insert(tx: Tx, spec) -> bool:
    row = tx.execute(
        """INSERT INTO campaigns (id, name, subject, url, brand, expires, max_per_second)
           VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING id""",
        (spec.id, spec.name, spec.subject, spec.url, spec.brand, spec.expires,
         spec.max_per_second)).fetchone()
    return row is not None


def get(tx: Tx, campaign_id: str, *, lock: bool = False) -> dict | None:
    sql = "SELECT * FROM campaigns WHERE id = %s" + (" FOR UPDATE" if lock else "")
    return tx.execute(sql, (campaign_id,)).fetchone()


def set_state(tx: Tx, campaign_id: str, state: str) -> None:
    tx.execute(
        """UPDATE campaigns SET state = %s, updated_at = now(),
                  started_at = CASE WHEN %s = 'running' THEN coalesce(started_at, now())
                                    ELSE started_at END,
                  cancelled_at = CASE WHEN %s = 'cancelled' THEN now() ELSE cancelled_at END
           WHERE id = %s""", (state, state, state, campaign_id))


def cancel_unsent(tx: Tx, campaign_id: str) -> int:
    """Every row not yet handed to a provider becomes suppressed/cancelled, and its outbox
    row is finished: a message still in Redis then finds nothing to do."""
    row = tx.execute(
        """WITH gone AS (
               UPDATE notifications SET state = 'suppressed', reason = 'cancelled',
                      claim_token = NULL, claimed_until = NULL, updated_at = now()
               WHERE campaign_id = %s AND state IN ('pending', 'standby')
               RETURNING id),
           done AS (UPDATE outbox SET done_at = now(), parked_reason = NULL
                    WHERE entity_id IN (SELECT id FROM gone) AND done_at IS NULL)
           SELECT count(*) AS n FROM gone""", (campaign_id,)).fetchone()
    return row["n"]


def park_unsent(tx: Tx, campaign_id: str) -> int:
    """Pause: unsent rows wait in the outbox until resume (the sweep leaves them alone)."""
    row = tx.execute(
        """WITH parked AS (
               UPDATE outbox SET next_attempt_at = 'infinity', published_at = NULL,
                      parked_reason = 'campaign_paused'
               WHERE done_at IS NULL AND entity_id IN (
                   SELECT id FROM notifications WHERE campaign_id = %s AND state = 'pending')
               RETURNING 1)
           SELECT count(*) AS n FROM parked""", (campaign_id,)).fetchone()
    return row["n"]


def wake_parked(tx: Tx, campaign_id: str) -> list[dict]:
    """Resume: the rows parked by pause (or by a worker that met the pause) are due now."""
    return tx.execute(
        """UPDATE outbox SET next_attempt_at = now(), published_at = now(),
                  publish_count = publish_count + 1, parked_reason = NULL
           WHERE done_at IS NULL AND parked_reason = 'campaign_paused' AND entity_id IN (
               SELECT id FROM notifications WHERE campaign_id = %s AND state = 'pending')
           RETURNING entity_id, task, queue""", (campaign_id,)).fetchall()


# A recipient's state from its notification rows (one per planned channel): sent if any
# channel was sent; unsent while any row may still go; cancelled / suppressed when
# nothing was or will be sent for that reason; failed when every channel failed. One
# grouped pass gives both the counts by state and, for suppressed recipients, the first
# channel's reason: at 1,000,000 recipients the pass reads ~2,000,000 rows (1.6 s on an
# idle 2-core host, ~10 s beside a campaign in full flow), so `show` makes it once.
_RECIPIENTS = """
    WITH r AS (
        SELECT CASE
            WHEN bool_or(state = 'sent') THEN 'sent'
            WHEN bool_or(state = 'sending') THEN 'sending'
            WHEN bool_or(state IN ('pending', 'standby')) THEN 'pending'
            WHEN bool_or(reason = 'cancelled') THEN 'cancelled'
            WHEN bool_and(state IN ('suppressed', 'skipped')) THEN 'suppressed'
            ELSE 'failed' END AS state,
            (array_agg(reason ORDER BY rank))[1] AS first_reason
        FROM notifications WHERE campaign_id = %s GROUP BY event_id)
    SELECT state, CASE WHEN state = 'suppressed' THEN coalesce(first_reason, 'unknown')
                  END AS reason, count(*) AS n
    FROM r GROUP BY 1, 2"""


def recipients(tx: Tx, campaign_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """(recipients by state, suppressed recipients by the first channel's reason)."""
    counts: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for r in tx.execute(_RECIPIENTS, (campaign_id,)):
        counts[r["state"]] = counts.get(r["state"], 0) + r["n"]
        if r["reason"] is not None:
            reasons[r["reason"]] = r["n"]
    return counts, reasons


def rows_in_state(tx: Tx, campaign_id: str, state: str) -> int:
    """Notification rows of the campaign in one state: the (campaign_id, state) index
    reads only those rows, so a loop may poll it (cancel waits on 'sending' this way)."""
    row = tx.execute(
        "SELECT count(*) AS n FROM notifications WHERE campaign_id = %s AND state = %s",
        (campaign_id, state)).fetchone()
    return row["n"]


def sent_rate(tx: Tx, campaign_id: str, window_s: float) -> float:
    row = tx.execute(
        """SELECT count(*) AS n FROM notifications
           WHERE campaign_id = %s AND state = 'sent'
             AND sent_at > now() - make_interval(secs => %s)""",
        (campaign_id, window_s)).fetchone()
    return row["n"] / window_s


def parked_quiet(tx: Tx, campaign_id: str) -> int:
    row = tx.execute(
        """SELECT count(*) AS n FROM notifications
           WHERE campaign_id = %s AND state = 'pending' AND reason = 'quiet_hours'""",
        (campaign_id,)).fetchone()
    return row["n"]


# -- sending a batch (notifications/campaigns/sending.py) ---------------------------------
def slowest_rate(ids: list[uuid.UUID]) -> tuple[str, float] | None:
    """(campaign id, max_per_second) of the throttled campaign among the batch's rows,
    the slowest first."""
    row = run_one(
        """SELECT c.id, c.max_per_second FROM campaigns c
           WHERE c.max_per_second IS NOT NULL AND c.id IN (
               SELECT campaign_id FROM notifications WHERE id = ANY(%s))
           ORDER BY c.max_per_second LIMIT 1""", (ids,))
    return (row["id"], row["max_per_second"]) if row else None


_CLAIM = """
    UPDATE notifications n SET state = 'sending', claim_token = %(token)s,
           claimed_until = now() + make_interval(secs => %(lease)s),
           attempts = n.attempts + 1, activated_at = coalesce(n.activated_at, now()),
           reason = CASE WHEN n.reason = 'quiet_hours' THEN NULL ELSE n.reason END,
           updated_at = now()
    FROM order_events e, campaigns c
    WHERE n.id = ANY(%(ids)s) AND n.state = 'pending' AND n.event_type = 'promotion'
      AND c.id = n.campaign_id AND c.state = 'running'
      AND e.event_id = n.event_id AND (e.expires IS NULL OR e.expires > now())
      AND n.country <> ALL(%(quiet)s)
    RETURNING n.id, n.channel, e.payload"""


def claim_batch(tx: Tx, ids: list[uuid.UUID], token: uuid.UUID, lease: float,
                quiet: list[str]) -> list[dict]:
    """Claim, in one statement, the batch's rows that may be sent now: pending
    promotions of a running campaign, unexpired, outside quiet hours. The rest are left
    for `batch_states`."""
    return tx.execute(_CLAIM, {"ids": ids, "token": token, "lease": lease,
                               "quiet": quiet}).fetchall()


def batch_states(tx: Tx, ids: list[uuid.UUID]) -> list[dict]:
    return tx.execute(
        """SELECT n.id, n.state, c.state AS campaign_state FROM notifications n
           LEFT JOIN campaigns c ON c.id = n.campaign_id WHERE n.id = ANY(%s)""",
        (ids,)).fetchall()


def finish_outbox(tx: Tx, ids: list[uuid.UUID]) -> None:
    tx.execute("""UPDATE outbox SET done_at = now(), parked_reason = NULL
                  WHERE entity_id = ANY(%s) AND done_at IS NULL""", (ids,))


def cancel_rows(tx: Tx, ids: list[uuid.UUID]) -> None:
    tx.execute(
        """WITH gone AS (
               UPDATE notifications SET state = 'suppressed', reason = 'cancelled',
                      claim_token = NULL, claimed_until = NULL, updated_at = now()
               WHERE id = ANY(%s) AND state IN ('pending', 'standby') RETURNING id)
           UPDATE outbox SET done_at = now(), parked_reason = NULL
           WHERE entity_id IN (SELECT id FROM gone) AND done_at IS NULL""", (ids,))


def park_paused(tx: Tx, ids: list[uuid.UUID]) -> None:
    tx.execute(
        """UPDATE outbox o SET next_attempt_at = 'infinity', published_at = NULL,
                  parked_reason = 'campaign_paused'
           FROM notifications n JOIN campaigns c ON c.id = n.campaign_id
           WHERE o.entity_id = ANY(%s) AND o.done_at IS NULL
             AND n.id = o.entity_id AND n.state = 'pending'
             AND c.state = 'paused'""", (ids,))


def record_sent(params: tuple) -> list[dict]:
    """The batch's sends recorded by `notifications_sent_batch` (relay/sql), in autocommit:
    its own transaction, one round trip."""
    return run_all(
        "SELECT * FROM notifications_sent_batch(%s, %s, %s, %s, %s, %s, %s, %s)", params)
