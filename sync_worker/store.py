"""SQL for email changes and the per-customer slot. Callers hold the transaction.

Every function that changes a customer's changes expects the caller to hold that
customer's row lock (`lock_customer`): it is what serialises producers, claims and
outcomes for one customer across all workers.
"""

from __future__ import annotations

import uuid

from relay import attempts, outbox
from relay.db import Tx, run_one
from relay.names import Queues, Tasks

KIND = "email_change"
TASK = Tasks.DELIVER_EMAIL_CHANGE
QUEUE = Queues.HOMERIA
OPEN_STATES = ("pending", "in_flight")
FINAL_STATES = ("synced", "superseded", "dead")
STATES = (*OPEN_STATES, *FINAL_STATES)

_KEY = "brand = %(brand)s AND country = %(country)s AND customer_id = %(customer_id)s"
_EKEY = "e.brand = %(brand)s AND e.country = %(country)s AND e.customer_id = %(customer_id)s"


def key_of(row: dict) -> dict:
    return {"brand": row["brand"], "country": row["country"],
            "customer_id": row["customer_id"]}


def lock_customer(tx: Tx, key: dict, *, create: bool = False):
    """Lock the customer's row. Returns the cursor: `.fetchone()` -> {active_change} or None
    (not fetching keeps a pipelined transaction from waiting for it)."""
    if create:
        tx.execute("""INSERT INTO email_change_customers (brand, country, customer_id)
                       VALUES (%(brand)s, %(country)s, %(customer_id)s)
                       ON CONFLICT DO NOTHING""", key)
    return tx.execute(f"SELECT active_change FROM email_change_customers WHERE {_KEY}"
                      " FOR UPDATE", key)


def lock_customer_of(tx: Tx, change_id: uuid.UUID) -> dict | None:
    """Lock the customer of a change; returns {active_change, brand, country, customer_id}."""
    return tx.execute(
        """SELECT c.* FROM email_change_customers c
           WHERE (c.brand, c.country, c.customer_id) =
                 (SELECT brand, country, customer_id FROM email_changes WHERE id = %s)
           FOR UPDATE""", (change_id,)).fetchone()


def set_active(tx: Tx, key: dict, change_id: uuid.UUID | None) -> None:
    tx.execute(f"UPDATE email_change_customers SET active_change = %(active)s WHERE {_KEY}",
               {**key, "active": change_id})


def open_changes(tx: Tx, key: dict) -> list[dict]:
    """Pending and in-flight changes of a customer, oldest first, with outbox due-ness."""
    return tx.execute(
        f"""SELECT e.*, extract(epoch FROM o.next_attempt_at) - extract(epoch FROM now())
                   AS due_in_s
            FROM email_changes e LEFT JOIN outbox o ON o.entity_id = e.id
            WHERE {_EKEY} AND e.state IN ('pending', 'in_flight')
            ORDER BY e.seq""", key).fetchall()


def get(conn, change_id: uuid.UUID) -> dict | None:
    return conn.execute("SELECT * FROM email_changes WHERE id = %s", (change_id,)).fetchone()


_BY_REQUEST_ID = "SELECT * FROM email_changes WHERE request_id = %s"


def by_request_id(conn, request_id: str) -> dict | None:
    """The change a request id already made, inside the caller's transaction."""
    return conn.execute(_BY_REQUEST_ID, (request_id,)).fetchone()


def find_by_request_id(request_id: str) -> dict | None:
    """The same, as one autocommit statement: a retried request is answered in a single
    round trip, with no BEGIN/COMMIT around the read."""
    return run_one(_BY_REQUEST_ID, (request_id,))


def insert(tx: Tx, change_id: uuid.UUID, fields: dict) -> dict | None:
    """Insert a change; None when its request_id exists already (the caller re-reads)."""
    return tx.execute(
        """INSERT INTO email_changes (id, customer_id, brand, country, current_email,
                                      new_email, requested_by, request_id)
           VALUES (%(id)s, %(customer_id)s, %(brand)s, %(country)s, %(current_email)s,
                   %(new_email)s, %(requested_by)s, %(request_id)s)
           ON CONFLICT (request_id) WHERE request_id IS NOT NULL DO NOTHING
           RETURNING id, requested_at, state""", {**fields, "id": change_id}).fetchone()


def advance(tx: Tx, key: dict) -> uuid.UUID | None:
    """The slot is free: hand it to the oldest pending change (woken now), if any."""
    row = tx.execute("SELECT * FROM email_change_advance(%(brand)s, %(country)s,"
                     " %(customer_id)s)", key).fetchone()
    if row is None:
        return None
    outbox.publish_after_commit(tx, row["change_id"], row["task"], row["queue"])
    return row["change_id"]


def finish_synced(change_id: uuid.UUID, token: uuid.UUID, *, customer_ref: str | None,
                  reason: str, status_code: int | None, started_at, latency_ms: float,
                  idempotency_key: uuid.UUID | None = None) -> dict:
    """The hot path's whole outcome as one statement and one transaction (relay/sql/
    email_changes.sql): attempt recorded (with its key), change synced, outbox row
    finished, slot handed on, the next change published. -> {outcome: synced | claim_lost,
    age_s}."""
    row = run_one("SELECT * FROM email_change_synced(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                  (change_id, token, customer_ref, reason, status_code, started_at,
                   latency_ms, attempts.worker_name(),
                   None if idempotency_key is None else str(idempotency_key)))
    if row["next_id"] is not None:
        outbox.publish_now([outbox.Publication(row["next_id"], row["next_task"],
                                               row["next_queue"])])
    return row


def fast_claim(change_id: uuid.UUID, token: uuid.UUID, now, until) -> dict | None:
    """Claim a change in ONE statement when nothing needs deciding (relay/sql/
    email_changes.sql): it is its customer's active change, due, not claimed, and has
    nothing queued behind it to coalesce.

    No customer lock is needed: the row lock on the change serialises two claimers (the
    second re-checks claimed_until after the first commits), and a producer adding a
    change behind it meanwhile just waits for the next turn. None: take the slow path.
    """
    return run_one("SELECT * FROM email_change_claim(%s, %s, %s, %s)",
                   (change_id, token, now, until))


def key_holds_permanent_answer(tx: Tx, change_id: uuid.UUID, key: uuid.UUID) -> bool:
    """Has Homeria answered `key` with a permanent result (400/404/409/422)? Then it keeps
    that answer for 30 days and the change needs a new key to be delivered again. Nothing
    was applied under such a key: an applied key answers its kept 200 ever after, never a
    permanent error. (Attempts from before keys were recorded went under the change id.)"""
    return tx.execute(
        """SELECT EXISTS (SELECT 1 FROM attempts
                          WHERE entity_id = %(id)s AND outcome = 'permanent'
                            AND coalesce(idempotency_key, %(id)s::text) = %(key)s) AS spent""",
        {"id": change_id, "key": str(key)}).fetchone()["spent"]


def supersede(tx: Tx, carrier: uuid.UUID, carried: list[uuid.UUID]) -> None:
    """`carried` are done: sent as part of `carrier`'s batch."""
    tx.execute(
        """UPDATE email_changes SET state = 'superseded', carried_by = %s,
                  finished_at = clock_timestamp(), claim_token = NULL,
                  claimed_until = NULL, updated_at = clock_timestamp()
           WHERE id = ANY(%s)""", (carrier, carried))


def update(tx: Tx, change_id: uuid.UUID, **fields) -> None:
    sets = ", ".join(f"{name} = %({name})s" for name in fields)
    tx.execute(f"UPDATE email_changes SET {sets}, updated_at = clock_timestamp()"
               " WHERE id = %(id)s", {**fields, "id": change_id})


def counts_by_state(conn) -> dict[str, int]:
    rows = conn.execute("SELECT state, count(*) AS n FROM email_changes GROUP BY state")
    found = {r["state"]: int(r["n"]) for r in rows}
    return {state: found.get(state, 0) for state in STATES}

