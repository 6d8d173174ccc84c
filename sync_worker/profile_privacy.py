"""Profile changes' table in retention, erasure and access (relay/privacy): registered on
import (by sync_worker.oncall)."""

from __future__ import annotations

from relay.privacy import access, catalog, erasure, retention

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
