"""SQL for profile changes. They share the per-customer slot and the `seq` order with
email changes (migration 0120), so the customer's row lock (`store.lock_customer`)
serialises both kinds; every function that changes a customer's changes expects the
caller to hold it."""

from __future__ import annotations

import json
import uuid

from psycopg.types.json import Jsonb

from relay.db import Tx
from relay.names import Queues, Tasks

KIND = "profile_change"
TASK = Tasks.DELIVER_PROFILE_CHANGE
QUEUE = Queues.HOMERIA
OPEN_STATES = ("pending", "in_flight")
STATES = ("pending", "in_flight", "synced", "superseded", "dead")

_KEY = "brand = %(brand)s AND country = %(country)s AND customer_id = %(customer_id)s"


def insert(tx: Tx, change_id: uuid.UUID, fields: dict) -> dict | None:
    """Insert a change; None when its request_id exists already (the caller re-reads)."""
    return tx.execute(
        """INSERT INTO profile_changes (id, customer_id, brand, country, email, changes,
                                        requested_by, request_id)
           VALUES (%(id)s, %(customer_id)s, %(brand)s, %(country)s, %(email)s, %(changes)s,
                   %(requested_by)s, %(request_id)s)
           ON CONFLICT (request_id) WHERE request_id IS NOT NULL DO NOTHING
           RETURNING id, requested_at, state""",
        {**fields, "id": change_id, "changes": Jsonb(fields["changes"])}).fetchone()


def get(conn, change_id: uuid.UUID) -> dict | None:
    return conn.execute("SELECT * FROM profile_changes WHERE id = %s", (change_id,)).fetchone()


def by_request_id(conn, request_id: str) -> dict | None:
    return conn.execute("SELECT * FROM profile_changes WHERE request_id = %s",
                        (request_id,)).fetchone()


def lock_customer_of(tx: Tx, change_id: uuid.UUID) -> dict | None:
    """Lock the customer of a profile change; -> {active_change, brand, country, customer_id}."""
    return tx.execute(
        """SELECT c.* FROM email_change_customers c
           WHERE (c.brand, c.country, c.customer_id) =
                 (SELECT brand, country, customer_id FROM profile_changes WHERE id = %s)
           FOR UPDATE""", (change_id,)).fetchone()


def email_ahead(tx: Tx, key: dict) -> str | None:
    """The new email of the customer's latest email change still queued or being sent:
    what Homeria will hold when a profile change made now is applied."""
    row = tx.execute(
        f"""SELECT new_email FROM email_changes WHERE {_KEY}
              AND state IN ('pending', 'in_flight') ORDER BY seq DESC LIMIT 1""",
        key).fetchone()
    return row["new_email"] if row else None


def is_open(tx: Tx, change_id: uuid.UUID) -> bool:
    return tx.execute("SELECT 1 FROM profile_changes WHERE id = %s AND state = ANY(%s)",
                      (change_id, list(OPEN_STATES))).fetchone() is not None


def next_open_seq(tx: Tx, key: dict, after_seq: int) -> int | None:
    """The seq of the customer's first open profile change after `after_seq`: email
    changes behind it must not be merged past it (that would reorder)."""
    row = tx.execute(
        f"""SELECT min(seq) AS seq FROM profile_changes WHERE {_KEY}
              AND state IN ('pending', 'in_flight') AND seq > %(after)s""",
        {**key, "after": after_seq}).fetchone()
    return row["seq"]


def queue(tx: Tx, key: dict) -> list[dict]:
    """The customer's open changes of both kinds, in order, with outbox due-ness."""
    return tx.execute(
        f"""SELECT q.*, extract(epoch FROM o.next_attempt_at) - extract(epoch FROM now())
                   AS due_in_s
            FROM (SELECT 'profile' AS kind, id, seq, state, claimed_until, sent_changes,
                         changes, email, carried_count, requested_at
                  FROM profile_changes WHERE {_KEY} AND state IN ('pending', 'in_flight')
                  UNION ALL
                  SELECT 'email', id, seq, state, claimed_until, NULL, NULL, NULL, 0,
                         requested_at
                  FROM email_changes WHERE {_KEY} AND state IN ('pending', 'in_flight')) q
            LEFT JOIN outbox o ON o.entity_id = q.id
            ORDER BY q.seq""", key).fetchall()


def supersede(tx: Tx, carrier: uuid.UUID, carried: list[uuid.UUID]) -> None:
    """`carried` are done: sent as part of `carrier`'s batch."""
    tx.execute(
        """UPDATE profile_changes SET state = 'superseded', carried_by = %s,
                  finished_at = clock_timestamp(), claim_token = NULL,
                  claimed_until = NULL, updated_at = clock_timestamp()
           WHERE id = ANY(%s)""", (carrier, carried))


def update(tx: Tx, change_id: uuid.UUID, **fields) -> None:
    values = {k: Jsonb(v) if k in {"sent_changes", "changes"} and v is not None else v
              for k, v in fields.items()}
    sets = ", ".join(f"{name} = %({name})s" for name in values)
    tx.execute(f"UPDATE profile_changes SET {sets}, updated_at = clock_timestamp()"
               " WHERE id = %(id)s", {**values, "id": change_id})


def counts_by_state(conn) -> dict[str, int]:
    rows = conn.execute("SELECT state, count(*) AS n FROM profile_changes GROUP BY state")
    found = {r["state"]: int(r["n"]) for r in rows}
    return {state: found.get(state, 0) for state in STATES}


def as_json(value) -> dict | None:
    """jsonb comes back as a dict already; tolerate text for safety."""
    return json.loads(value) if isinstance(value, str) else value
