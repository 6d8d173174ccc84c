"""`enqueue_profile_change`: the producer API for phone, name and address changes.

The same guarantees as `enqueue_email_change` (producer.py): validated before any write,
one transaction holding the customer's lock, a repeated request_id returns the first
receipt, the outbox row published after commit (or parked behind the customer's earlier
change of either kind), only the change id in Redis.

The change carries the email Homeria will know the customer by when it is applied: the
new email of an email change of the same customer still queued ahead of it, else the
caller's.
"""

from __future__ import annotations

import uuid

from relay import outbox
from relay.db import connection, transaction
from relay.logs import get_logger
from sync_worker import profile_store, store
from sync_worker.models import Receipt
from sync_worker.profile_models import parse_profile_request

log = get_logger(__name__)


def enqueue_profile_change(customer_id: str, email: str, brand: str, country: str,
                           changes: dict, requested_by: str | None = None,
                           request_id: str | None = None) -> Receipt:
    """Accept one profile change; returns once it is committed. Raises InvalidInput."""
    request = parse_profile_request({
        "customer_id": customer_id, "email": email, "brand": brand, "country": country,
        "changes": changes, "requested_by": requested_by, "request_id": request_id})
    if request.request_id is not None:
        existing = _existing(request.request_id)
        if existing is not None:
            return existing
    change_id = uuid.uuid4()
    key = {"brand": request.brand, "country": request.country,
           "customer_id": request.customer_id}
    with transaction() as tx:
        active = store.lock_customer(tx, key, create=True).fetchone()["active_change"]
        fields = {**key, "email": profile_store.email_ahead(tx, key) or request.email,
                  "changes": request.changes.fields(), "requested_by": request.requested_by,
                  "request_id": request.request_id}
        row = profile_store.insert(tx, change_id, fields)
        if row is None:   # lost a race with the same request_id
            return _receipt(profile_store.by_request_id(tx.conn, request.request_id),
                            duplicate=True)
        behind = active is not None
        outbox.add(tx, profile_store.KIND, change_id, profile_store.TASK, profile_store.QUEUE,
                   publish=not behind)
        if not behind:
            store.set_active(tx, key, change_id)
    log.info("profile_change.enqueued", change_id=str(change_id), brand=request.brand,
             country=request.country, customer_id=request.customer_id,
             fields=sorted(fields["changes"]), queued_behind=behind)
    return Receipt(change_id, request.request_id, row["requested_at"], row["state"],
                   duplicate=False, queued_behind=behind)


def _existing(request_id: str) -> Receipt | None:
    with connection() as conn:
        row = profile_store.by_request_id(conn, request_id)
        conn.commit()
    return _receipt(row, duplicate=True) if row else None


def _receipt(row: dict, *, duplicate: bool) -> Receipt:
    return Receipt(row["id"], row["request_id"], row["requested_at"], row["state"],
                   duplicate=duplicate, queued_behind=False)
