"""What the soak reads at the end: the stand-ins' records, plus relay's ids to name them.

relay's database is read only to attribute (notification id -> event, which events relay
suppressed on purpose, which it dead-lettered and why, which delay notices it created);
whether something arrived, and how often, comes from the stand-ins alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from soaklib import records
from soaklib.checks import Alert, Delivery, Event

QUERIES = {
    "notifications": "SELECT id::text, event_id FROM notifications",
    "suppressed": """SELECT event_id, min(reason) FROM notifications GROUP BY event_id
                     HAVING bool_and(state = 'suppressed')""",
    "dead_letters": """SELECT kind, entity_id::text, reason, coalesce(error, '')
                       FROM dead_letters WHERE state = 'open'""",
    "change_notes": """SELECT id::text, state || coalesce(', last ' || last_outcome, '')
                       FROM email_changes WHERE state NOT IN ('synced', 'superseded')""",
    "event_notes": """SELECT event_id, string_agg(channel || ' ' || state
                          || coalesce(' (' || reason || ')', ''), ', ' ORDER BY rank)
                      FROM notifications GROUP BY event_id
                      HAVING bool_and(state <> 'sent')""",
    "delay_events": """SELECT event_id, extract(epoch FROM deadline)::float8 FROM order_events
                       WHERE type = 'delay_notice'""",
}


@dataclass
class Seen:
    applied: list[dict] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    unattributed: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    suppressed: dict[str, str] = field(default_factory=dict)
    change_dead_letters: dict[str, str] = field(default_factory=dict)
    event_dead_letters: dict[str, str] = field(default_factory=dict)
    delay_events: list[Event] = field(default_factory=list)
    change_notes: dict[str, str] = field(default_factory=dict)
    event_notes: dict[str, str] = field(default_factory=dict)


def _read(url: str):
    return records.get_json(url, read_timeout=120, attempts=3)


def collect(database_url: str, urls: dict[str, str], run: str) -> Seen:
    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
        rows = {name: conn.execute(sql).fetchall() for name, sql in QUERIES.items()}
    events_of = {nid: event for nid, event in rows["notifications"]}
    seen = Seen(suppressed={event: reason or "suppressed"
                            for event, reason in rows["suppressed"]})
    for kind, entity, reason, error in rows["dead_letters"]:
        detail = f"{reason}: {error}"[:160]
        if kind == "email_change":
            seen.change_dead_letters[entity] = detail
        elif kind == "notification" and entity in events_of:
            seen.event_dead_letters[events_of[entity]] = detail
    seen.change_notes = {i: "relay: " + note for i, note in rows["change_notes"]}
    seen.event_notes = {i: "relay: " + note for i, note in rows["event_notes"]}
    seen.delay_events = [Event(event, "delay_notice", deadline)
                         for event, deadline in rows["delay_events"]]
    seen.applied = _read(f"{urls['homeria']}/_control/applied")
    attributed = records.attribute(
        run, _read(f"{urls['smtp_http']}/_control/messages"),
        _read(f"{urls['sms']}/_control/messages"),
        _read(f"{urls['push']}/_control/messages"), events_of)
    seen.deliveries, seen.unattributed = attributed.deliveries, attributed.unattributed
    seen.alerts = records.breach_alerts(
        _read(f"{urls['webhook']}/_control/posts"),
                                        events_of)
    return seen
