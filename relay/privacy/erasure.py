"""Erasure: one customer's personal data out of every table, in one transaction, audited.

What happens, for the customer (customer_id, brand, country):
- work not yet handed to anyone is cancelled: standby/pending notifications become
  `suppressed` (reason `erased`) and their outbox rows finish; open dead letters of the
  customer's work are discarded (an audit event each, by the erasing operator);
- every finished row is redacted: emails, phones, names, addresses, payloads, rendered
  inbox messages (the inbox rows are deleted), error texts and response excerpts; the
  customer id becomes a pseudonym (`erased-…`, one per erasure), so counts, times,
  outcomes, brand and country still add up in reports;
- work in flight right now (a notification being sent, an email or profile change pending
  or being sent to Homeria) keeps its data: it is needed to finish. The result says how
  many rows were kept; run the erasure again once they finish (retention also blanks them
  PII_RETENTION_DAYS later);
- one `privacy_erasures` row records who, when, why and how much, with a digest of the
  customer instead of the customer (subject.py).

The customer's email-change slot row is locked first, so producers, claims and outcomes of
the same customer wait for the erasure (or it waits for them).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from relay.db import Tx, transaction
from relay.logs import get_logger
from relay.privacy.retention import EVENT_SKELETON
from relay.privacy.subject import Subject

log = get_logger(__name__)

# A feature's own tables: fn(tx, subject, pseudonym, erasure) -> None; it adds to
# erasure.erased / erasure.kept_open / erasure.entity_ids.
_extra: list[Callable[[Tx, Subject, str, Erasure], None]] = []


def register(fn: Callable[[Tx, Subject, str, Erasure], None]) -> None:
    _extra.append(fn)


@dataclass
class Erasure:
    erased: dict[str, int]
    kept_open: int = 0
    entity_ids: list[uuid.UUID] | None = None
    audit_id: int | None = None
    pseudonym: str | None = None

    @property
    def complete(self) -> bool:
        return self.kept_open == 0

    def as_dict(self) -> dict:
        return {"audit_id": self.audit_id, "erased": self.erased,
                "rows_erased": sum(self.erased.values()), "kept_open": self.kept_open,
                "complete": self.complete}


_KEY = "customer_id = %(customer_id)s AND brand = %(brand)s AND country = %(country)s"


def erase(subject: Subject, *, by: str, why: str | None = None) -> Erasure:
    """Erase the subject's personal data (see module doc); -> what was done."""
    from relay.bootstrap import load_features

    load_features()
    pseudonym = f"erased-{uuid.uuid4().hex[:16]}"   # one per erasure
    result = Erasure(erased={}, entity_ids=[], pseudonym=pseudonym)
    params = {**subject.key, "pseudonym": pseudonym, "by": by}
    with transaction() as tx:
        tx.execute(f"SELECT 1 FROM email_change_customers WHERE {_KEY} FOR UPDATE", params)
        _notifications(tx, params, result)
        _email_changes(tx, params, result)
        for fn in _extra:
            fn(tx, subject, pseudonym, result)
        _dead_letters_and_attempts(tx, params, result)
        result.audit_id = tx.execute(
            """INSERT INTO privacy_erasures ("by", why, subject, pseudonym, erased, kept_open)
               VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
            (by, why, subject.digest, pseudonym, json.dumps(result.erased),
             result.kept_open)).fetchone()["id"]
    log.info("privacy.erased", audit_id=result.audit_id, by=by,
             rows=sum(result.erased.values()), kept_open=result.kept_open)
    return result


def _count(result: Erasure, table: str, n: int) -> None:
    result.erased[table] = result.erased.get(table, 0) + n


def _notifications(tx: Tx, params: dict, result: Erasure) -> None:
    cancelled = [r["id"] for r in tx.execute(
        f"""UPDATE notifications n SET state = 'suppressed', reason = 'erased',
                   claim_token = NULL, claimed_until = NULL, updated_at = now()
            FROM order_events e
            WHERE n.event_id = e.event_id AND e.{_KEY.replace(' AND ', ' AND e.')}
              AND n.state IN ('standby', 'pending')
            RETURNING n.id""", params)]
    for nid in cancelled:
        tx.execute("SELECT outbox_complete(%s)", (nid,))
    _count(result, "notifications_cancelled", len(cancelled))
    result.kept_open += tx.execute(
        f"""SELECT count(*) AS n FROM notifications n JOIN order_events e USING (event_id)
            WHERE e.{_KEY.replace(' AND ', ' AND e.')} AND n.state = 'sending'""",
        params).fetchone()["n"]
    events = [r["event_id"] for r in tx.execute(
        f"""UPDATE order_events e SET payload = {EVENT_SKELETON},
                   customer_id = %(pseudonym)s, redacted_at = now()
            WHERE e.{_KEY.replace(' AND ', ' AND e.')}
              AND NOT EXISTS (SELECT 1 FROM notifications n
                              WHERE n.event_id = e.event_id AND n.state = 'sending')
            RETURNING e.event_id""", params)]
    _count(result, "order_events", len(events))
    notes = [r["id"] for r in tx.execute(
        """UPDATE notifications SET customer_id = %s, last_error = NULL
           WHERE event_id = ANY(%s) RETURNING id""", (params["pseudonym"], events))]
    _count(result, "notifications", len(notes))
    result.entity_ids.extend(notes)
    _count(result, "inbox", tx.execute("DELETE FROM inbox WHERE notification_id = ANY(%s)",
                                       (notes,)).rowcount)
    _count(result, "sla_breaches", tx.execute(
        "UPDATE sla_breaches SET customer_id = %s WHERE event_id = ANY(%s)",
        (params["pseudonym"], events)).rowcount)
    _count(result, "sla_escalations", tx.execute(
        """UPDATE sla_escalations SET customer_id = %(pseudonym)s
           WHERE customer_id = %(customer_id)s AND brand = %(brand)s
             AND event_ids && %(events)s::text[]""", {**params, "events": events}).rowcount)


def _email_changes(tx: Tx, params: dict, result: Erasure) -> None:
    # a dead change whose dead letter is open is finished work: its dead letter is
    # discarded below, so it is erased like the rest
    ids = [r["id"] for r in tx.execute(
        f"""UPDATE email_changes SET current_email = NULL, new_email = NULL,
                   sent_current_email = NULL, customer_id = %(pseudonym)s,
                   redacted_at = now()
            WHERE {_KEY} AND state NOT IN ('pending', 'in_flight') RETURNING id""", params)]
    _count(result, "email_changes", len(ids))
    result.entity_ids.extend(ids)
    # The customer's slot row (ids only, no contact data) stays: a producer of the same
    # customer may be waiting for its lock right now, and must find it when it gets it.
    result.kept_open += tx.execute(f"SELECT count(*) AS n FROM email_changes WHERE {_KEY}",
                                   params).fetchone()["n"]


def _dead_letters_and_attempts(tx: Tx, params: dict, result: Erasure) -> None:
    ids = result.entity_ids
    discarded = [r["id"] for r in tx.execute(
        """UPDATE dead_letters SET state = 'discarded', resolved_at = now(), resolved_by = %s,
                  resolution_note = 'privacy erasure'
           WHERE entity_id = ANY(%s) AND state = 'open' RETURNING id""",
        (params["by"], ids))]
    for dead_letter_id in discarded:
        tx.execute("""INSERT INTO dead_letter_events (dead_letter_id, action, "by", note)
                      VALUES (%s, 'discarded', %s, 'privacy erasure')""",
                   (dead_letter_id, params["by"]))
    _count(result, "dead_letters_discarded", len(discarded))
    _count(result, "dead_letters", tx.execute(
        """UPDATE dead_letters SET error = NULL, response_excerpt = NULL, redacted_at = now()
           WHERE entity_id = ANY(%s)""", (ids,)).rowcount)
    _count(result, "attempts", tx.execute(
        "UPDATE attempts SET detail = NULL WHERE entity_id = ANY(%s) AND detail IS NOT NULL",
        (ids,)).rowcount)
