"""Reconciliation: does Homeria hold the emails we believe we synced?

For a sample of customers whose latest synced change is recent and who have nothing
pending, GET /v1/customers?email=<new_email> through the client and count:
matched (Homeria has that email on the customer_ref it answered with), mismatched (held
by another customer_ref), missing (404). Errors (outage, auth) are counted apart: an
outage is not evidence of inconsistency. Each run is stored, logged, and shown in
`relay status` (section homeria).
"""

from __future__ import annotations

import json
import time

from relay.db import connection, transaction
from relay.logs import get_logger
from sync_worker.errors import HomeriaAuthError, HomeriaError
from sync_worker.runtime import runtime

log = get_logger(__name__)

DEFAULT_SAMPLE = 200
WINDOW = "1 day"

_SAMPLE_SQL = """
SELECT * FROM (
    SELECT DISTINCT ON (e.brand, e.country, e.customer_id)
           e.id, e.brand, e.country, e.customer_id, e.new_email, e.customer_ref, e.synced_at
    FROM email_changes e
    WHERE e.state = 'synced' AND e.synced_at > now() - %(window)s::interval
      AND NOT EXISTS (SELECT 1 FROM email_changes o
                      WHERE o.brand = e.brand AND o.country = e.country
                        AND o.customer_id = e.customer_id
                        AND o.state IN ('pending', 'in_flight'))
    ORDER BY e.brand, e.country, e.customer_id, e.seq DESC
) latest ORDER BY synced_at DESC LIMIT %(sample)s
"""


def reconcile(sample: int = DEFAULT_SAMPLE) -> dict:
    rt = runtime()
    with connection() as conn:
        rows = conn.execute(_SAMPLE_SQL, {"window": WINDOW, "sample": sample}).fetchall()
        conn.commit()
    counts = {"checked": 0, "matched": 0, "mismatched": 0, "missing": 0, "errors": 0}
    mismatches: list[str] = []
    for row in rows:
        grant = rt.bucket.take(max_wait_s=5.0)
        if grant.wait_s:
            time.sleep(grant.wait_s)
        try:
            found = rt.client.get_customer(row["new_email"], row["brand"], row["country"])
        except HomeriaAuthError:
            counts["errors"] += 1
            break  # every other call would fail the same way
        except HomeriaError:
            counts["errors"] += 1
            continue
        counts["checked"] += 1
        if found is None:
            counts["missing"] += 1
            mismatches.append(str(row["id"]))
        elif row["customer_ref"] and found.customer_ref != row["customer_ref"]:
            counts["mismatched"] += 1
            mismatches.append(str(row["id"]))
        else:
            counts["matched"] += 1
    doc = {"sample": sample, **counts, "inconsistent_change_ids": mismatches[:50]}
    with transaction() as tx:
        tx.execute(
            """INSERT INTO email_sync_reconciliations
                   (sample, checked, matched, mismatched, missing, errors, detail)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (sample, counts["checked"], counts["matched"], counts["mismatched"],
             counts["missing"], counts["errors"],
             json.dumps({"inconsistent_change_ids": mismatches[:50]})))
    log_fn = log.warning if counts["mismatched"] or counts["missing"] else log.info
    log_fn("email_sync.reconciled", **counts, sample=sample)
    return doc


def last_run(conn) -> dict | None:
    row = conn.execute(
        """SELECT ran_at, sample, checked, matched, mismatched, missing, errors
           FROM email_sync_reconciliations ORDER BY id DESC LIMIT 1""").fetchone()
    if row is None:
        return None
    doc = dict(row)
    doc["ran_at"] = row["ran_at"].isoformat(timespec="seconds")
    doc["consistency"] = round(row["matched"] / row["checked"], 4) if row["checked"] else None
    return doc
