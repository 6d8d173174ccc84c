"""Putting dead letters right: replay, discard, retention purge — each audited.

Replay never re-runs work itself. The package that owns the kind registers a replayer
`fn(tx, entity_id)` that resets the entity to pending and calls `outbox.reopen()`; the work
then travels the normal path (outbox -> broker -> task), so per-customer ordering and
idempotency hold exactly as for new work. Each dead letter is resolved in its own
transaction under a row lock: two on-call engineers replaying the same selection at once
replay each entity once, and the second sees "already replayed".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import timedelta

import psycopg

from relay.db import Tx, transaction
from relay.logs import get_logger, scrub, scrub_value
from relay.settings import get_settings

log = get_logger(__name__)

Replayer = Callable[[Tx, uuid.UUID], None]
_replayers: dict[str, Replayer] = {}


def register_replayer(kind: str, fn: Replayer) -> None:
    """Declare how to put an entity of `kind` back on the normal path (see module doc)."""
    _replayers[kind] = fn


def replayer_for(kind: str) -> Replayer | None:
    if kind not in _replayers:
        from relay.bootstrap import load_features  # feature packages register on import

        load_features()
    return _replayers.get(kind)


@dataclass(frozen=True)
class Result:
    id: int
    outcome: str   # replayed | discarded | would_replay | would_discard | skipped
                   # | not_found | failed
    message: str
    kind: str | None = None
    entity_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome not in {"failed", "not_found"}

    def as_dict(self) -> dict:
        return asdict(self)


def replay(ids: Iterable[int], *, by: str, why: str | None = None, dry_run: bool = False,
           on_result: Callable[[Result], None] | None = None) -> list[Result]:
    """Replay each open dead letter; an already resolved one is skipped, not an error."""
    return [_each(i, "replayed", by, why, dry_run, on_result) for i in ids]


def discard(ids: Iterable[int], *, by: str, why: str | None = None, dry_run: bool = False,
            on_result: Callable[[Result], None] | None = None) -> list[Result]:
    """Close each open dead letter without replaying it; the row and an audit event stay."""
    return [_each(i, "discarded", by, why, dry_run, on_result) for i in ids]


def _each(dead_letter_id: int, action: str, by: str, why: str | None, dry_run: bool,
          on_result: Callable[[Result], None] | None) -> Result:
    try:
        result = _resolve(int(dead_letter_id), action, by, why, dry_run)
    except psycopg.OperationalError:
        raise  # the database is gone: stop, do not fail a thousand rows one by one
    except Exception as exc:
        result = Result(dead_letter_id, "failed",
                        f"dead letter {dead_letter_id}: {exc.__class__.__name__}: "
                        f"{scrub(str(exc))[:300]}")
    if result.outcome in {"replayed", "discarded"}:
        log.info(f"dead_letter.{action}", dead_letter_id=result.id, kind=result.kind,
                 entity_id=result.entity_id, by=by)
    elif result.outcome == "failed":
        log.warning("dead_letter.resolve_failed", dead_letter_id=result.id,
                    action=action, error=result.message)
    if on_result:
        on_result(result)
    return result


def _resolve(dead_letter_id: int, action: str, by: str, why: str | None,
             dry_run: bool) -> Result:
    verb = "replay" if action == "replayed" else "discard"
    with transaction() as tx:
        row = tx.execute(
            """SELECT id, kind, entity_id, state, resolved_at, resolved_by FROM dead_letters
               WHERE id = %s FOR UPDATE""", (dead_letter_id,)).fetchone()
        if row is None:
            return Result(dead_letter_id, "not_found", f"no dead letter {dead_letter_id}")
        kind, entity = row["kind"], str(row["entity_id"])
        if row["state"] != "open":
            when = row["resolved_at"].isoformat(timespec="seconds") if row["resolved_at"] \
                else "?"
            return Result(dead_letter_id, "skipped",
                          f"dead letter {dead_letter_id} is already {row['state']} (by "
                          f"{row['resolved_by']} at {when}); nothing to do", kind, entity)
        fn = replayer_for(kind) if action == "replayed" else None
        if action == "replayed" and fn is None:
            return Result(dead_letter_id, "failed",
                          f"dead letter {dead_letter_id}: no replayer registered for kind "
                          f"{kind!r}", kind, entity)
        if dry_run:
            return Result(dead_letter_id, f"would_{verb}", f"would {verb}", kind, entity)
        if fn is not None:
            fn(tx, row["entity_id"])
        tx.execute(
            """UPDATE dead_letters SET state = %s, resolved_at = now(), resolved_by = %s,
                      resolution_note = %s,
                      replay_count = replay_count + CASE WHEN %s = 'replayed' THEN 1 ELSE 0 END
               WHERE id = %s""",
            (action, by, why, action, dead_letter_id))
        tx.execute(
            """INSERT INTO dead_letter_events (dead_letter_id, action, "by", note)
               VALUES (%s, %s, %s, %s)""", (dead_letter_id, action, by, why))
    return Result(dead_letter_id, action, f"{action} {kind} {entity}", kind, entity)


def summary(verb: str, results: list[Result], selected: list[int], dry_run: bool, by: str,
            elapsed_s: float) -> dict:
    """What `relay dlq replay|discard --json` prints and the API's bulk routes return."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return scrub_value({"action": verb, "dry_run": dry_run, "by": by,
                        "selected": len(selected), "counts": counts,
                        "elapsed_s": round(elapsed_s, 3),
                        "results": [r.as_dict() for r in results]})


def retention() -> timedelta:
    """DEAD_LETTER_RETENTION_DAYS (default 30, a relay.settings field validated at
    start-up): how long resolved dead letters are kept."""
    return timedelta(days=get_settings().dead_letter_retention_days)


def purge(older_than: timedelta, *, by: str = "retention", dry_run: bool = False) -> int:
    """Delete resolved (replayed/discarded) dead letters resolved more than `older_than`
    ago, in batches; each leaves a `retention_purged` event. Open ones are never purged."""
    if dry_run:
        from relay.db import connection

        with connection() as conn:
            n = conn.execute(
                """SELECT count(*) AS n FROM dead_letters
                   WHERE state <> 'open' AND resolved_at < now() - %s""",
                (older_than,)).fetchone()["n"]
            conn.commit()
        return int(n)
    total, batch = 0, get_settings().dead_letter_purge_batch
    while True:
        with transaction() as tx:
            cur = tx.execute(
                """WITH gone AS (
                       DELETE FROM dead_letters WHERE id IN (
                           SELECT id FROM dead_letters
                           WHERE state <> 'open' AND resolved_at < now() - %(age)s
                           ORDER BY resolved_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
                       RETURNING id, kind, entity_id, reason, state)
                   INSERT INTO dead_letter_events (dead_letter_id, action, "by", note)
                   SELECT id, 'retention_purged', %(by)s,
                          format('%%s %%s %%s (was %%s)', kind, entity_id, reason, state)
                   FROM gone""",
                {"age": older_than, "batch": batch, "by": by})
            purged = cur.rowcount
        total += purged
        if purged < batch:
            break
    if total:
        log.info("dead_letter.purged", count=total, older_than_s=older_than.total_seconds())
    return total


def purge_expired() -> int:
    """The beat's retention job: purge what is older than DEAD_LETTER_RETENTION_DAYS."""
    return purge(retention())
