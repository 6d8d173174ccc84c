"""What each `produce` key submitted, so it may read that back and nothing else.

An email change records it inside the producer's own transaction (`add`): one commit for
both, no second statement. Elsewhere it is recorded right after the producer call commits,
idempotently: a retry with the same Idempotency-Key (or event_id) records it again if the
first attempt's response was lost between the two, and a failure here answers 503 so the
client does retry. Committed without waiting for the WAL flush (`synchronous_commit =
off`): it is bookkeeping for read-back, and a second flush per request would cost the
producer's latency ~1 ms on a real disk; a crash can lose at most the last fraction of a
second of it.
"""

from __future__ import annotations

from relay.apikeys import Principal
from relay.db import Tx, run_one

EMAIL_CHANGE = "email_change"
ORDER = "order"


def record(principal: Principal, kind: str, refs: list[str]) -> None:
    if principal.scope != "produce" or not refs:
        return
    # One autocommit statement; set_config(..., true) lasts until its commit.
    run_one("""WITH quick AS (SELECT set_config('synchronous_commit', 'off', true))
               INSERT INTO api_submissions (key_name, kind, ref)
               SELECT %s, %s, ref FROM quick, unnest(%s::text[]) AS ref
               ON CONFLICT DO NOTHING RETURNING 1 AS added""",
            (principal.name, kind, list(dict.fromkeys(refs))))


def add(tx: Tx, principal: Principal, kind: str, ref: str) -> None:
    """`record` inside the caller's transaction (committed with the work itself)."""
    if principal.scope == "produce":
        tx.execute("""INSERT INTO api_submissions (key_name, kind, ref) VALUES (%s, %s, %s)
                      ON CONFLICT DO NOTHING""", (principal.name, kind, ref))


def owns(principal: Principal, kind: str, ref: str) -> bool:
    return run_one("""SELECT 1 AS yes FROM api_submissions
                      WHERE kind = %s AND ref = %s AND key_name = %s""",
                   (kind, ref, principal.name)) is not None
