"""The outbox sweep: re-publish due work the broker never got or lost.

Rows are claimed with FOR UPDATE SKIP LOCKED and stamped `published_at` in the same
statement, so two sweepers never publish one row twice within a lease.
"""

from __future__ import annotations

from relay.db import connection, transaction
from relay.logs import get_logger
from relay.outbox_publish import Publication, publish_now

log = get_logger(__name__)

# While a queue still holds messages, stale-looking rows are most likely just waiting their
# turn behind a backlog (a promotion burst), not lost: re-publishing them would only add
# duplicates. Such rows are re-published only once they are this many leases old.
BACKLOGGED_LEASE_FACTOR = 10

_CLAIM_SQL = """
WITH due AS (
    SELECT entity_id FROM outbox
    WHERE done_at IS NULL AND queue = %(queue)s AND next_attempt_at <= now()
      AND (published_at IS NULL OR published_at < now() - make_interval(secs => %(lease)s))
    ORDER BY next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE outbox o SET published_at = now(), publish_count = o.publish_count + 1
FROM due WHERE o.entity_id = due.entity_id
RETURNING o.entity_id, o.task, o.queue, o.publish_count
"""


def sweep(lease_s: float, limit: int = 2000, queue_depth=None) -> int:
    """Claim and publish due, unfinished, stale rows; return how many were published.

    `queue_depth(queue) -> int | None` tells how many messages wait in a broker queue;
    a backlogged queue gets a longer lease (see BACKLOGGED_LEASE_FACTOR).
    """
    with connection() as conn:
        queues = [r["queue"] for r in conn.execute(
            "SELECT DISTINCT queue FROM outbox WHERE done_at IS NULL AND next_attempt_at <= now()"
        )]
        conn.commit()
    total = 0
    for queue in queues:
        depth = queue_depth(queue) if queue_depth else None
        lease = lease_s * (BACKLOGGED_LEASE_FACTOR if depth else 1)
        with transaction() as tx:
            rows = tx.execute(
                _CLAIM_SQL, {"queue": queue, "lease": lease, "limit": limit - total}
            ).fetchall()
        if rows:
            pubs = [Publication(r["entity_id"], r["task"], r["queue"]) for r in rows]
            total += publish_now(pubs, source="sweep")
            log.info("outbox.swept", queue=queue, published=len(pubs), queue_depth=depth,
                     republished=sum(1 for r in rows if r["publish_count"] > 2))
        if total >= limit:
            break
    return total


def backlog() -> dict:
    """Unfinished work by kind: due, in flight (published within the lease), parked."""
    with connection() as conn:
        rows = conn.execute(
            """SELECT kind,
                      count(*) FILTER (WHERE next_attempt_at <= now() AND published_at IS NULL)
                          AS due_unpublished,
                      count(*) FILTER (WHERE published_at IS NOT NULL) AS in_flight,
                      count(*) FILTER (WHERE next_attempt_at > now()) AS parked,
                      extract(epoch FROM now() - min(created_at)) AS oldest_pending_age_s
               FROM outbox WHERE done_at IS NULL GROUP BY kind ORDER BY kind"""
        ).fetchall()
        conn.commit()
    return {r["kind"]: {
        "due_unpublished": r["due_unpublished"], "in_flight": r["in_flight"],
        "parked": r["parked"],
        "oldest_pending_age_s": round(float(r["oldest_pending_age_s"]), 1),
    } for r in rows}
