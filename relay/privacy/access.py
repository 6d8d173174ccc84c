"""Access: everything relay holds about one customer, as one JSON-ready document.

This is the one place that returns personal data unmasked, on purpose: it answers the
customer's own access request. Callers print it to stdout for the operator and log only
that an export happened, never what it held.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from relay.db import connection
from relay.logs import get_logger
from relay.privacy.subject import Subject

log = get_logger(__name__)

# A feature's own tables: fn(conn, subject) -> (section name, rows, entity ids)
_extra: list[Callable[[Any, Subject], tuple[str, list[dict], list[uuid.UUID]]]] = []


def register(fn: Callable[[Any, Subject], tuple[str, list[dict], list[uuid.UUID]]]) -> None:
    _extra.append(fn)


_KEY = "customer_id = %(customer_id)s AND brand = %(brand)s AND country = %(country)s"


def export(subject: Subject) -> dict:
    from relay.bootstrap import load_features

    load_features()
    p = subject.key
    with connection() as conn:
        changes = conn.execute(
            f"""SELECT id, state, current_email, new_email, sent_current_email, requested_by,
                       request_id, requested_at, synced_at, finished_at, customer_ref,
                       last_outcome, redacted_at
                FROM email_changes WHERE {_KEY} ORDER BY seq""", p).fetchall()
        events = conn.execute(
            f"""SELECT event_id, type, order_id, occurred_at, received_at, locale, payload,
                       redacted_at
                FROM order_events WHERE {_KEY} ORDER BY occurred_at, event_id""",
            p).fetchall()
        event_ids = [e["event_id"] for e in events]
        notes = conn.execute(
            """SELECT id, event_id, channel, state, reason, sent_at, provider_message_id,
                      last_error FROM notifications
               WHERE event_id = ANY(%s) ORDER BY occurred_at, event_id, rank""",
            (event_ids,)).fetchall()
        inbox = conn.execute(
            """SELECT notification_id, order_id, title, body, created_at, read_at
               FROM inbox WHERE notification_id = ANY(%s) ORDER BY created_at, id""",
            ([n["id"] for n in notes],)).fetchall()
        sections: dict[str, list[dict]] = {"email_changes": changes}
        entity_ids = [c["id"] for c in changes] + [n["id"] for n in notes]
        for fn in _extra:
            name, rows, ids = fn(conn, subject)
            sections[name] = rows
            entity_ids += ids
        attempts = conn.execute(
            """SELECT entity_id, kind, started_at, status_code, outcome, detail
               FROM attempts WHERE entity_id = ANY(%s) ORDER BY started_at, id""",
            (entity_ids,)).fetchall()
        dead = conn.execute(
            """SELECT id, kind, entity_id, reason, status_code, error, response_excerpt,
                      state, created_at, resolved_at FROM dead_letters
               WHERE entity_id = ANY(%s) ORDER BY id""", (entity_ids,)).fetchall()
        breaches = conn.execute(
            """SELECT event_id, event_type, channel, deadline, breached_at, delay_event_id
               FROM sla_breaches WHERE event_id = ANY(%s) ORDER BY breached_at""",
            (event_ids,)).fetchall()
        erasures = conn.execute(
            """SELECT id, "at", "by", why, erased, kept_open FROM privacy_erasures
               WHERE subject = %s ORDER BY id""", (subject.digest,)).fetchall()
        conn.commit()
    doc = {
        "subject": subject.key,
        "exported_at": datetime.now(UTC),
        **sections,
        "order_events": events,
        "notifications": notes,
        "inbox": inbox,
        "attempts": attempts,
        "dead_letters": dead,
        "sla_breaches": breaches,
        "erasures": erasures,
    }
    log.info("privacy.exported", rows=sum(len(v) for v in doc.values() if isinstance(v, list)))
    return jsonable(doc)


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    return value
