"""What the email sync plugs into the runtime (imported via relay.bootstrap):
the `homeria` section of `relay status` and the `email_change` dead-letter replayer; and
`change_details`, one change as `relay sync show` and `GET /v1/email-changes/{id}` show it."""

from __future__ import annotations

import uuid

from relay import attempts, bootstrap, deadletters
from relay.db import connection
from relay.errors import NotFound
from relay.logs import mask_email
from relay.status import register_section
from sync_worker import (  # noqa: F401  (profile_ops registers on import)
    policy,
    profile_ops,
    profile_store,
    reconcile,
    service,
    store,
)
from sync_worker.runtime import runtime


def status_section() -> dict:
    rt = runtime()
    with connection() as conn:
        counts = store.counts_by_state(conn)
        profile_counts = profile_store.counts_by_state(conn)
        last = reconcile.last_run(conn)
        conn.commit()
    return {
        "breaker": rt.breaker.snapshot(),
        "rate_limit": rt.bucket.snapshot(),
        "email_changes": counts,
        "profile_changes": profile_counts,
        "reconciliation": last,
    }


SHOWN = ("id", "state", "customer_id", "brand", "country", "request_id", "requested_by",
         "requested_at", "carried_by", "carried_count", "failures", "last_outcome",
         "last_status_code", "customer_ref", "synced_at", "finished_at", "delivery")


def change_details(change_id: uuid.UUID, *, masked: bool = True) -> dict:
    """One change: its state, what carried it, every attempt; emails masked unless
    `masked=False` (the producer reading back what it submitted). NotFound if unknown."""
    with connection() as conn:
        row = store.get(conn, change_id)
        history = attempts.history(conn, change_id) if row else []
        conn.commit()
    if row is None:
        raise NotFound(f"no email change {change_id}")
    from sync_worker.payload import delivery_key

    doc = {k: row[k] for k in SHOWN}
    # the key the next (or last) request goes under: the change id, or a replay's own key
    doc["idempotency_key"] = str(delivery_key(row["id"], row["delivery"]))
    mask = mask_email if masked else (lambda e: e)
    doc["current_email"] = mask(row["current_email"])
    doc["new_email"] = mask(row["new_email"])
    doc["attempts"] = history
    return doc


register_section("homeria", status_section)
deadletters.register_replayer(store.KIND, service.replay)
deadletters.register_states(store.KIND, "email_changes", delivered=("synced", "superseded"))
bootstrap.config_check(policy.get_policy)
