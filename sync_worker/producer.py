"""`enqueue_email_change`: the producer API support tooling calls.

Validate, then in ONE transaction: lock the customer's slot row, insert the change (a
repeated request_id returns the first receipt: the unique index plus ON CONFLICT makes
that race-safe), and add its outbox row — published after commit if the customer has no
change in flight, parked ("waiting") otherwise. The broker message carries the change id
only; emails stay in PostgreSQL. If Redis is down the call still succeeds: the outbox
sweep publishes later.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

from relay import outbox
from relay.db import Tx, get_pool
from relay.logs import get_logger
from sync_worker import store
from sync_worker.models import EmailChangeRequest, Receipt, parse_request

log = get_logger(__name__)


def enqueue_email_change(customer_id: str, current_email: str, new_email: str, brand: str,
                         country: str, requested_by: str | None = None,
                         request_id: str | None = None) -> Receipt:
    """Accept one email change; returns once it is committed. Raises InvalidInput."""
    return enqueue_request(parse_request({
        "customer_id": customer_id, "current_email": current_email, "new_email": new_email,
        "brand": brand, "country": country, "requested_by": requested_by,
        "request_id": request_id,
    }))


def enqueue_request(request: EmailChangeRequest, *,
                    also: Callable[[Tx, uuid.UUID], None] | None = None) -> Receipt:
    """`enqueue_email_change` for a request validated already (the HTTP API validates the
    body once, as it arrives). `also(tx, change_id)` runs inside the same transaction for a
    new change — the HTTP API records there which key submitted it, so one commit holds
    both (not called for a duplicate)."""
    fields = request.model_dump()
    if request.request_id is not None:
        existing = _existing(request.request_id)   # the common retry: no write at all
        if existing is not None:
            return existing
    change_id = uuid.uuid4()
    key = store.key_of(fields)
    with _pipelined_transaction() as tx:   # two round trips to PostgreSQL
        slot_cursor = store.lock_customer(tx, key, create=True)
        row = store.insert(tx, change_id, fields)
        if row is None:  # lost a race with the same request_id
            first = store.by_request_id(tx.conn, request.request_id)
            return _receipt(first, duplicate=True)
        behind = slot_cursor.fetchone()["active_change"] is not None
        if behind:
            outbox.add(tx, store.KIND, change_id, store.TASK, store.QUEUE, publish=False)
        else:
            store.set_active(tx, key, change_id)
            outbox.add(tx, store.KIND, change_id, store.TASK, store.QUEUE)
        if also is not None:
            also(tx, change_id)
    log.info("email_change.enqueued", change_id=str(change_id), brand=request.brand,
             country=request.country, customer_id=request.customer_id, queued_behind=behind)
    return Receipt(change_id, request.request_id, row["requested_at"], row["state"],
                   duplicate=False, queued_behind=behind)


@contextmanager
def _pipelined_transaction() -> Iterator[Tx]:
    """One transaction as ONE pipeline: BEGIN, the statements and COMMIT go out together
    and only a `fetchone()` waits for the server. psycopg's `transaction()` inside a
    pipeline synchronises on entering and leaving, and the pipeline again on exit: the
    producer's transaction took five round trips that way (strace), two this way.
    After-commit hooks run once COMMIT has succeeded, as with `relay.db.transaction`."""
    with get_pool().connection() as conn:
        tx = Tx(conn)
        conn.autocommit = True   # BEGIN/COMMIT are ours, sent in the pipeline
        try:
            with conn.pipeline():
                conn.execute("BEGIN")
                yield tx
                conn.execute("COMMIT")   # its result comes with the pipeline's final sync
        finally:
            if conn.pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()   # an error mid-way left the block open or aborted
            conn.autocommit = False
    for fn in tx._after:
        try:
            fn()
        except Exception as exc:   # the row is committed; the outbox sweep publishes it
            log.warning("db.after_commit_failed", error=repr(exc))


def _existing(request_id: str) -> Receipt | None:
    # one autocommit statement: a single round trip, no BEGIN/COMMIT around a read
    row = store.find_by_request_id(request_id)
    return _receipt(row, duplicate=True) if row else None


def _receipt(row: dict, *, duplicate: bool) -> Receipt:
    return Receipt(row["id"], row["request_id"], row["requested_at"], row["state"],
                   duplicate=duplicate, queued_behind=False)
