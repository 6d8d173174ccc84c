"""What each `produce` key submitted, so it may read that back and nothing else.

Recorded right after the producer call commits, idempotently: a retry with the same
Idempotency-Key (or event_id) records it again if the first attempt's response was lost
between the two, and a failure here answers 503 so the client does retry.
"""

from __future__ import annotations

from relay.apikeys import Principal
from relay.db import run_one

EMAIL_CHANGE = "email_change"
ORDER = "order"


def record(principal: Principal, kind: str, refs: list[str]) -> None:
    if principal.scope != "produce" or not refs:
        return
    run_one("""INSERT INTO api_submissions (key_name, kind, ref)
               SELECT %s, %s, unnest(%s::text[]) ON CONFLICT DO NOTHING
               RETURNING 1 AS added""",
            (principal.name, kind, list(dict.fromkeys(refs))))


def owns(principal: Principal, kind: str, ref: str) -> bool:
    return run_one("""SELECT 1 AS yes FROM api_submissions
                      WHERE kind = %s AND ref = %s AND key_name = %s""",
                   (kind, ref, principal.name)) is not None
