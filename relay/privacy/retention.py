"""Retention: personal data leaves finished rows after PII_RETENTION_DAYS (beat, hourly).

Each step blanks the personal columns of rows that are finished and older than the
cutoff, and stamps `redacted_at`; no row is deleted, so counts, times, outcomes, brand and
country stay and `relay sla report` and the rollups read old months unchanged. Open work
(pending, in flight, standby) and open dead letters keep their data: a replay or a retry
needs it, and it is blanked once it finishes. Every step runs in batches (of
PII_RETENTION_BATCH rows) under `FOR UPDATE SKIP LOCKED`, each batch its own short
transaction: two beats (or a long backlog on the first run) never block workers or each
other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from relay.db import transaction
from relay.logs import get_logger
from relay.settings import get_settings

log = get_logger(__name__)

# An entity is finished when its outbox row is done (or it never had one) and no open dead
# letter holds it.
_ENTITY_FINISHED = """
NOT EXISTS (SELECT 1 FROM outbox o WHERE o.entity_id = {id} AND o.done_at IS NULL)
AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.entity_id = {id} AND d.state = 'open')
"""

# The skeleton an order event's payload becomes: what identifies and classifies the event,
# nothing about the person or the order's contents.
EVENT_SKELETON = """json_build_object(
    'event_id', e.event_id, 'type', e.type, 'order_id', e.order_id,
    'occurred_at', e.occurred_at, 'brand', e.brand, 'country', e.country,
    'locale', e.locale, 'redacted', true)"""

STEPS: dict[str, str] = {
    "email_changes": f"""
        UPDATE email_changes t SET current_email = NULL, new_email = NULL,
               sent_current_email = NULL, redacted_at = now()
        WHERE t.id IN (
            SELECT e.id FROM email_changes e
            WHERE e.redacted_at IS NULL AND e.finished_at < %(cutoff)s
              AND e.state NOT IN ('pending', 'in_flight')
              AND {_ENTITY_FINISHED.format(id='e.id')}
            ORDER BY e.finished_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)""",
    "order_events": f"""
        UPDATE order_events t SET payload = s.skeleton, redacted_at = now()
        FROM (
            SELECT e.event_id, {EVENT_SKELETON} AS skeleton FROM order_events e
            WHERE e.redacted_at IS NULL AND e.received_at < %(cutoff)s
              AND NOT EXISTS (
                  SELECT 1 FROM notifications n WHERE n.event_id = e.event_id
                  AND (n.state IN ('standby', 'pending', 'sending')
                       OR n.updated_at >= %(cutoff)s
                       OR EXISTS (SELECT 1 FROM dead_letters d
                                  WHERE d.entity_id = n.id AND d.state = 'open')))
            ORDER BY e.received_at LIMIT %(batch)s FOR UPDATE OF e SKIP LOCKED) s
        WHERE t.event_id = s.event_id""",
    "inbox": """
        UPDATE inbox t SET title = NULL, body = NULL, redacted_at = now()
        WHERE t.id IN (
            SELECT i.id FROM inbox i WHERE i.redacted_at IS NULL AND i.created_at < %(cutoff)s
            ORDER BY i.created_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)""",
    "notifications": f"""
        UPDATE notifications t SET last_error = NULL
        WHERE t.id IN (
            SELECT n.id FROM notifications n
            WHERE n.last_error IS NOT NULL AND n.updated_at < %(cutoff)s
              AND n.state NOT IN ('standby', 'pending', 'sending')
              AND {_ENTITY_FINISHED.format(id='n.id')}
            LIMIT %(batch)s FOR UPDATE SKIP LOCKED)""",
    "attempts": f"""
        UPDATE attempts t SET detail = NULL
        WHERE t.id IN (
            SELECT a.id FROM attempts a
            WHERE a.detail IS NOT NULL AND a.started_at < %(cutoff)s
              AND {_ENTITY_FINISHED.format(id='a.entity_id')}
            ORDER BY a.started_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)""",
    "dead_letters": """
        UPDATE dead_letters t SET error = NULL, response_excerpt = NULL, redacted_at = now()
        WHERE t.id IN (
            SELECT d.id FROM dead_letters d
            WHERE d.redacted_at IS NULL AND d.state <> 'open' AND d.resolved_at < %(cutoff)s
            ORDER BY d.resolved_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)""",
}

_extra_steps: dict[str, str] = {}


def register_step(table: str, sql: str) -> None:
    """A feature's own table with personal data (the sync's profile changes): `sql` is an
    UPDATE taking %(cutoff)s and %(batch)s, blanking at most `batch` finished rows."""
    _extra_steps[table] = sql


def retention_period() -> timedelta:
    return timedelta(days=get_settings().pii_retention_days)


@dataclass(frozen=True)
class RetentionRun:
    cutoff: datetime
    redacted: dict[str, int]

    def as_dict(self) -> dict:
        return {"cutoff": self.cutoff.isoformat(timespec="seconds"), "redacted": self.redacted,
                "total": sum(self.redacted.values())}


def run(now: datetime | None = None) -> RetentionRun:
    """Blank personal data in finished rows older than PII_RETENTION_DAYS; -> counts."""
    from relay.bootstrap import load_features

    load_features()   # feature packages register their own tables
    cutoff = (now or datetime.now(UTC)) - retention_period()
    redacted = {table: _drain(sql, cutoff) for table, sql in {**STEPS, **_extra_steps}.items()}
    result = RetentionRun(cutoff, redacted)
    log.info("privacy.retention", cutoff=result.cutoff.isoformat(timespec="seconds"),
             total=sum(redacted.values()), **{f"redacted_{k}": v for k, v in redacted.items()})
    return result


def _drain(sql: str, cutoff: datetime) -> int:
    total, batch = 0, get_settings().pii_retention_batch
    while True:
        with transaction() as tx:
            n = tx.execute(sql, {"cutoff": cutoff, "batch": batch}).rowcount
        total += n
        if n < batch:
            return total
