"""On-call views of the Homeria sync, and what it plugs into the runtime (imported by
relay.bootstrap, FEATURE_MODULES): the `homeria` section of `relay status`, the
dead-letter replayers of both kinds of change, and `change_details` /
`profile_change_details`, one change as `relay sync show` and the HTTP API show it.
Profile changes' place in retention, erasure and access is `profile_privacy.py`."""

from __future__ import annotations

import uuid

from relay import attempts, bootstrap, deadletters
from relay.db import connection
from relay.errors import NotFound
from relay.logs import mask_email
from relay.status import register_section
from sync_worker import (  # noqa: F401  (profile_privacy registers on import)
    policy,
    profile_privacy,
    profile_service,
    profile_store,
    reconcile,
    service,
    store,
)
from sync_worker.payload import delivery_key
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


def _details(rows, change_id: uuid.UUID, missing: str) -> tuple[dict, dict, list[dict]]:
    """(the row, its document so far, every attempt): what it is, what carried it, the key
    the next (or last) request goes under — the change id, or a replay's own key."""
    with connection() as conn:
        row = rows.get(conn, change_id)
        history = attempts.history(conn, change_id) if row else []
        conn.commit()
    if row is None:
        raise NotFound(f"no {missing} {change_id}")
    doc = {k: row[k] for k in SHOWN}
    doc["idempotency_key"] = str(delivery_key(row["id"], row["delivery"]))
    return row, doc, history


def change_details(change_id: uuid.UUID, *, masked: bool = True) -> dict:
    """One email change; emails masked unless `masked=False` (the producer reading back
    what it submitted). NotFound if unknown."""
    row, doc, history = _details(store, change_id, "email change")
    mask = mask_email if masked else (lambda e: e)
    doc["current_email"] = mask(row["current_email"])
    doc["new_email"] = mask(row["new_email"])
    doc["attempts"] = history
    return doc


def profile_change_details(change_id: uuid.UUID) -> dict:
    """One profile change: the email masked and the fields it sets named, never their
    values. NotFound if there is no such change."""
    row, doc, history = _details(profile_store, change_id, "email or profile change")
    doc = {"kind": profile_store.KIND, **doc}
    doc["email"] = mask_email(row["sent_email"] or row["email"])
    doc["fields"] = sorted(profile_store.as_json(row["sent_changes"] or row["changes"]) or {})
    doc["attempts"] = history
    return doc


register_section("homeria", status_section)
deadletters.register_replayer(store.KIND, service.replay)
deadletters.register_states(store.KIND, "email_changes", delivered=("synced", "superseded"))
deadletters.register_replayer(profile_store.KIND, profile_service.replay)
deadletters.register_states(profile_store.KIND, "profile_changes",
                            delivered=("synced", "superseded"))
bootstrap.config_check(policy.get_policy)
