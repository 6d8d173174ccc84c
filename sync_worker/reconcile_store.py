"""The reconciliation's SQL: which customers to check against Homeria, and what they should hold.

A customer is checked when nothing of theirs is in flight: their last synced email and
folded profile fields are what Homeria must show. Rows come back as dicts; the full run
streams them through a server-side cursor that never leaves this module.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

from relay.db import connection, transaction

_CUSTOMERS_SQL = """
WITH synced AS (
    SELECT brand, country, customer_id, seq, id, 'email' AS kind, new_email AS email,
           sent_current_email AS previous_email, customer_ref, NULL::jsonb AS fields,
           synced_at
    FROM email_changes WHERE state = 'synced' AND redacted_at IS NULL
    UNION ALL
    SELECT brand, country, customer_id, seq, id, 'profile', sent_email, NULL, customer_ref,
           sent_changes, synced_at
    FROM profile_changes WHERE state = 'synced' AND redacted_at IS NULL
)
SELECT s.brand, s.country, s.customer_id,
       (array_agg(s.id ORDER BY s.seq DESC))[1] AS last_change_id,
       (array_agg(s.email ORDER BY s.seq DESC))[1] AS email,
       (array_agg(s.customer_ref ORDER BY s.seq DESC))[1] AS customer_ref,
       (array_agg(s.previous_email ORDER BY s.seq DESC)
            FILTER (WHERE s.kind = 'email'))[1] AS previous_email,
       array_agg(s.fields ORDER BY s.seq) FILTER (WHERE s.fields IS NOT NULL)
            AS field_changes,
       max(s.synced_at) AS last_synced_at
FROM synced s
WHERE NOT EXISTS (SELECT 1 FROM email_changes o
                  WHERE o.brand = s.brand AND o.country = s.country
                    AND o.customer_id = s.customer_id AND o.state IN ('pending', 'in_flight'))
  AND NOT EXISTS (SELECT 1 FROM profile_changes o
                  WHERE o.brand = s.brand AND o.country = s.country
                    AND o.customer_id = s.customer_id AND o.state IN ('pending', 'in_flight'))
GROUP BY s.brand, s.country, s.customer_id
"""
_SAMPLE_SQL = _CUSTOMERS_SQL + """
HAVING max(s.synced_at) > now() - %(window)s::interval
ORDER BY last_synced_at DESC LIMIT %(sample)s"""
_COUNT_SQL = f"SELECT count(*) AS n FROM ({_CUSTOMERS_SQL}) c"




def count_customers() -> int:
    with connection() as conn:
        n = conn.execute(_COUNT_SQL).fetchone()["n"]
        conn.commit()
    return int(n)


def recent_customers(window: str, sample: int) -> list[dict]:
    """The `sample` customers synced most recently within `window`."""
    with connection() as conn:
        rows = conn.execute(_SAMPLE_SQL, {"window": window, "sample": sample}).fetchall()
        conn.commit()
    return rows


def every_customer(batch: int) -> Iterator[dict]:
    """Every customer, in key order, fetched `batch` rows at a time."""
    with connection() as conn, conn.transaction():
        with conn.cursor(name=f"reconcile_{uuid.uuid4().hex[:8]}") as cur:
            cur.itersize = batch
            cur.execute(_CUSTOMERS_SQL + " ORDER BY s.brand, s.country, s.customer_id")
            yield from cur


def save_run(doc: dict) -> None:
    """One row per run: what `relay status` and the console show as the last check."""
    with transaction() as tx:
        tx.execute(
            """INSERT INTO email_sync_reconciliations
                   (sample, checked, matched, mismatched, missing, errors, detail, drift,
                    repaired)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (doc["sample"], doc["checked"], doc["matched"], doc["mismatched"],
             doc["missing"], doc["errors"],
             json.dumps({"run": doc["run"], "scope": doc["scope"],
                         "inconsistent_change_ids": doc["inconsistent_change_ids"]}),
             json.dumps(doc["drift_by_field"]), len(doc["repaired"])))


def last_run(conn) -> dict | None:
    return conn.execute(
        """SELECT ran_at, sample, checked, matched, mismatched, missing, errors, drift,
                  repaired
           FROM email_sync_reconciliations ORDER BY id DESC LIMIT 1""").fetchone()
