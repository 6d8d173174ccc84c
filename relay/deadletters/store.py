"""Recording dead letters and reading them back (list, show, stats, the status section)."""

from __future__ import annotations

import uuid
from datetime import datetime

from relay import alerts, attempts, metrics, telemetry
from relay.db import Tx, connection
from relay.deadletters.filters import Filters
from relay.errors import NotFound
from relay.logs import get_logger, scrub, scrub_value

log = get_logger(__name__)

ERROR_LIMIT = 2000
EXCERPT_LIMIT = 1000

_RECORD_SQL = """
INSERT INTO dead_letters (kind, entity_id, reason, status_code, error, response_excerpt,
                          attempts, brand, country)
VALUES (%(kind)s, %(entity_id)s, %(reason)s, %(status_code)s, %(error)s, %(excerpt)s,
        %(attempts)s, %(brand)s, %(country)s)
ON CONFLICT (kind, entity_id) WHERE state = 'open' DO UPDATE SET
    last_failed_at = now(),
    reason = EXCLUDED.reason,
    status_code = EXCLUDED.status_code,
    error = EXCLUDED.error,
    response_excerpt = coalesce(EXCLUDED.response_excerpt, dead_letters.response_excerpt),
    attempts = greatest(dead_letters.attempts, EXCLUDED.attempts),
    brand = coalesce(EXCLUDED.brand, dead_letters.brand),
    country = coalesce(EXCLUDED.country, dead_letters.country)
RETURNING id, (xmax = 0) AS inserted
"""


def clean(text: str | None, limit: int) -> str | None:
    """Mask emails/phones, then truncate (masking first, so no half address survives)."""
    if text is None:
        return None
    text = scrub(str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def record(tx: Tx, *, kind: str, entity_id: uuid.UUID, reason: str,
           status_code: int | None = None, error: str | None = None,
           response_excerpt: str | None = None, attempts: int = 0,
           brand: str | None = None, country: str | None = None) -> int:
    """Open a dead letter for (kind, entity_id), or refresh the one already open.

    Call it inside the transaction that gives up on the entity (and marks its outbox row
    done). Once that commits: an ERROR log line, a Sentry message (tags kind, reason) and,
    for a newly opened dead letter only, an on-call alert. Returns the dead letter's id.
    """
    row = tx.execute(_RECORD_SQL, {
        "kind": kind, "entity_id": entity_id, "reason": reason, "status_code": status_code,
        "error": clean(error, ERROR_LIMIT), "excerpt": clean(response_excerpt, EXCERPT_LIMIT),
        "attempts": attempts, "brand": brand.lower() if brand else None,
        "country": country.upper() if country else None,
    }).fetchone()
    dead_letter_id, inserted = int(row["id"]), bool(row["inserted"])
    facts = {"dead_letter_id": dead_letter_id, "kind": kind, "entity_id": str(entity_id),
             "reason": reason, "status_code": status_code, "attempts": attempts,
             "brand": brand, "country": country}
    summary = clean(error, 300)
    tx.after_commit(lambda: _announce(facts, summary, inserted))
    return dead_letter_id


def _announce(facts: dict, error: str | None, inserted: bool) -> None:
    kind, reason = facts["kind"], facts["reason"]
    log.error("dead_letter.opened" if inserted else "dead_letter.refreshed",
              error=error, **facts)
    if not inserted:  # a redelivered give-up: on-call already heard about this one
        return
    metrics.dead_letters_total.labels(kind, reason).inc()
    telemetry.capture_message(f"dead letter: {kind} / {reason}", level="error",
                              kind=kind, reason=reason)
    detail = f"{kind} `{facts['entity_id']}` gave up: *{reason}*"
    if facts["status_code"]:
        detail += f" (HTTP {facts['status_code']})"
    if error:
        detail += f"\n> {error}"
    alerts.alert(
        f"dead_letters.{kind}", f"Dead letter: {kind}", detail, "error",
        {"reason": reason, "attempts": facts["attempts"], "brand": facts["brand"],
         "country": facts["country"], "dead letter": facts["dead_letter_id"],
         "fix": f"relay dlq show {facts['dead_letter_id']}"},
        label=reason, noun=f"{kind} dead letters",
    )


_COLUMNS = """id, kind, entity_id, reason, status_code, error, attempts, brand, country,
    first_failed_at, last_failed_at, created_at, state, resolved_at, resolved_by,
    resolution_note, replay_count,
    extract(epoch FROM now() - created_at)::float8 AS age_s"""


def find(filters: Filters | None = None) -> list[dict]:
    """Dead letters matching `filters`, newest first (the `list` of the store API)."""
    filters = filters or Filters()
    where, params = filters.where()
    sql = f"SELECT {_COLUMNS} FROM dead_letters WHERE {where} ORDER BY created_at DESC, id DESC"
    if filters.limit:
        sql += " LIMIT %s"
        params.append(filters.limit)
    with connection() as conn:
        rows = conn.execute(sql, params).fetchall()
        conn.commit()
    return [_public(r) for r in rows]


def ids_matching(filters: Filters) -> list[int]:
    """Ids for bulk work, oldest first (replay keeps roughly the original order)."""
    where, params = filters.where()
    sql = f"SELECT id FROM dead_letters WHERE {where} ORDER BY id"
    if filters.limit:
        sql += " LIMIT %s"
        params.append(filters.limit)
    with connection() as conn:
        ids = [r["id"] for r in conn.execute(sql, params)]
        conn.commit()
    return ids


def show(dead_letter_id: int) -> dict:
    """One dead letter with its response excerpt, attempts history, audit events, and the
    entity's other dead letters (it may have died, been replayed and died again)."""
    with connection() as conn:
        row = conn.execute(f"SELECT {_COLUMNS}, response_excerpt FROM dead_letters"
                           " WHERE id = %s", (dead_letter_id,)).fetchone()
        if row is None:
            conn.commit()
            raise NotFound(f"no dead letter {dead_letter_id}")
        history = attempts.history(conn, row["entity_id"])
        events = conn.execute(
            """SELECT id, action, "at", "by", note FROM dead_letter_events
               WHERE dead_letter_id = %s ORDER BY "at", id""", (dead_letter_id,)).fetchall()
        others = conn.execute(
            """SELECT id, reason, state, created_at FROM dead_letters
               WHERE kind = %s AND entity_id = %s AND id <> %s ORDER BY id""",
            (row["kind"], row["entity_id"], dead_letter_id)).fetchall()
        conn.commit()
    doc = _public(row)
    doc["attempts_history"] = [_public(a) for a in history]
    doc["events"] = [_public(e) for e in events]
    doc["other_dead_letters"] = [_public(o) for o in others]
    return doc


def stats() -> dict:
    """Counts by kind, reason and state; the oldest open dead letter's age."""
    with connection() as conn:
        groups = conn.execute(
            """SELECT kind, reason, state, count(*) AS count,
                      extract(epoch FROM now() - min(created_at))::float8 AS oldest_age_s
               FROM dead_letters GROUP BY kind, reason, state
               ORDER BY state, count(*) DESC, kind, reason""").fetchall()
        conn.commit()
    by_state = {s: 0 for s in ("open", "replayed", "discarded")}
    open_by_kind: dict[str, int] = {}
    oldest = None
    for g in groups:
        by_state[g["state"]] = by_state.get(g["state"], 0) + g["count"]
        if g["state"] == "open":
            open_by_kind[g["kind"]] = open_by_kind.get(g["kind"], 0) + g["count"]
            oldest = max(oldest or 0.0, g["oldest_age_s"])
    return {"open_total": by_state["open"], "by_state": by_state,
            "open_by_kind": open_by_kind,
            "oldest_open_age_s": None if oldest is None else round(oldest, 1),
            "groups": [_public(g) for g in groups]}


def status_section() -> dict:
    """The `dead_letters` section of `relay status`."""
    with connection() as conn:
        rows = conn.execute(
            """SELECT kind, count(*) AS open,
                      extract(epoch FROM now() - min(created_at))::float8 AS oldest_age_s
               FROM dead_letters WHERE state = 'open' GROUP BY kind ORDER BY kind""").fetchall()
        conn.commit()
    ages = [r["oldest_age_s"] for r in rows]
    return {"open": sum(r["open"] for r in rows),
            "open_by_kind": {r["kind"]: r["open"] for r in rows},
            "oldest_open_age_s": round(max(ages), 1) if ages else None}


def _public(row: dict) -> dict:
    """JSON-ready and scrubbed: what leaves the store for people and scripts."""
    out = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, float):
            value = round(value, 3)
        out[key] = value
    return scrub_value(out)
