"""What profile changes plug into the runtime (imported by sync_worker.ops): the dead-letter
replayer, and their table in retention, erasure and access (relay/privacy)."""

from __future__ import annotations

import uuid

from relay import attempts, deadletters
from relay.db import connection
from relay.errors import NotFound
from relay.logs import mask_email
from relay.privacy import access, catalog, erasure, retention
from sync_worker import profile_service, profile_store
from sync_worker.payload import delivery_key

deadletters.register_replayer(profile_store.KIND, profile_service.replay)
deadletters.register_states(profile_store.KIND, "profile_changes",
                            delivered=("synced", "superseded"))

_REDACT = "email = NULL, changes = NULL, sent_email = NULL, sent_changes = NULL"

retention.register_step("profile_changes", f"""
    UPDATE profile_changes t SET {_REDACT}, redacted_at = now()
    WHERE t.id IN (
        SELECT p.id FROM profile_changes p
        WHERE p.redacted_at IS NULL AND p.finished_at < %(cutoff)s
          AND p.state NOT IN ('pending', 'in_flight')
          AND NOT EXISTS (SELECT 1 FROM dead_letters d
                          WHERE d.entity_id = p.id AND d.state = 'open')
        ORDER BY p.finished_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)""")

_KEY = "customer_id = %(customer_id)s AND brand = %(brand)s AND country = %(country)s"


@erasure.register
def _erase(tx, subject, pseudonym: str, result: erasure.Erasure) -> None:
    ids = [r["id"] for r in tx.execute(
        f"""UPDATE profile_changes SET {_REDACT}, customer_id = %(pseudonym)s,
                   redacted_at = now()
            WHERE {_KEY} AND state NOT IN ('pending', 'in_flight') RETURNING id""",
        {**subject.key, "pseudonym": pseudonym})]
    result.erased["profile_changes"] = len(ids)
    result.entity_ids.extend(ids)
    still_open = tx.execute(f"SELECT count(*) AS n FROM profile_changes WHERE {_KEY}",
                            subject.key).fetchone()["n"]
    result.kept_open += still_open


@access.register
def _export(conn, subject):
    rows = conn.execute(
        f"""SELECT id, state, email, changes, sent_email, sent_changes, requested_by,
                   request_id, requested_at, synced_at, finished_at, customer_ref,
                   last_outcome, redacted_at
            FROM profile_changes WHERE {_KEY} ORDER BY seq""", subject.key).fetchall()
    return "profile_changes", rows, [r["id"] for r in rows]


catalog.register(catalog.Holding(
    "profile_changes", ("email", "changes", "sent_email", "sent_changes"),
    "the customer's email and the phone, names and address sent to Homeria",
    "until the change is finished (synced, carried, or dead with no open dead letter), "
    "then PII_RETENTION_DAYS"))


SHOWN = ("id", "state", "customer_id", "brand", "country", "request_id", "requested_by",
         "requested_at", "carried_by", "carried_count", "failures", "last_outcome",
         "last_status_code", "customer_ref", "synced_at", "finished_at", "delivery")


def change_details(change_id: uuid.UUID) -> dict:
    """One profile change for on-call (`relay sync show`): state, what carried it, its
    key, every attempt; the email masked and the fields it sets named, never their
    values. NotFound if there is no such change."""
    with connection() as conn:
        row = profile_store.get(conn, change_id)
        history = attempts.history(conn, change_id) if row else []
        conn.commit()
    if row is None:
        raise NotFound(f"no email or profile change {change_id}")
    doc = {"kind": profile_store.KIND, **{k: row[k] for k in SHOWN}}
    doc["idempotency_key"] = str(delivery_key(row["id"], row["delivery"]))
    doc["email"] = mask_email(row["sent_email"] or row["email"])
    doc["fields"] = sorted(profile_store.as_json(row["sent_changes"] or row["changes"]) or {})
    doc["attempts"] = history
    return doc
