"""Reconciliation: does Homeria hold what we believe we synced, field by field?

For each customer with nothing open (no change pending or in flight, of either kind)
relay knows what Homeria should hold: the email and customer_ref of the customer's latest
synced change, and every profile field its synced profile changes set, in order (the
latest value of each field wins, a clear included). One `GET /v1/customers` per customer
compares all of it. A customer is consistent when every expected field matches; the run's
rate is consistent / checked, against the 99 % target. Errors (outage, auth) are counted
apart: an outage is not evidence of inconsistency.

By default a sample of the customers synced in the last day (`--sample`, the beat's 200);
`all_=True` walks every customer with something synced, streamed through a server-side
cursor (so memory stays flat) with `on_progress` after each. Only what retention has not
blanked can be checked: older fields are not expected of anyone.

`repair=True` re-sends what drifted through the normal path, never around it: drifted
profile fields as a profile change (request_id `reconcile:<run>:<customer>`), a missing
email as an email change from the customer's previous email when Homeria still holds that
one. An email held by another customer_ref is reported, not "repaired": that needs a
person. The report lists what was re-sent.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable

from relay.errors import InvalidInput
from relay.logs import get_logger
from sync_worker import reconcile_store
from sync_worker.errors import HomeriaAuthError, HomeriaError
from sync_worker.profile_models import PROFILE_FIELDS
from sync_worker.runtime import runtime

log = get_logger(__name__)

DEFAULT_SAMPLE = 200
WINDOW = "1 day"
TARGET = 0.99
STREAM_BATCH = 500

def expected_fields(field_changes: list | None) -> dict:
    """The profile Homeria should hold: synced changes folded oldest first."""
    expected: dict = {}
    for doc in field_changes or ():
        expected.update(json.loads(doc) if isinstance(doc, str) else doc)
    return expected


def compare(row: dict, found) -> list[str]:
    """The drifted fields of one customer ([] = consistent); `found` is the GET's record."""
    if found is None:
        return ["email"]
    drift = []
    if row["customer_ref"] and found.customer_ref != row["customer_ref"]:
        drift.append("customer_ref")
    held = found.profile or {}
    for name, value in expected_fields(row["field_changes"]).items():
        if _comparable(held.get(name)) != _comparable(value):
            drift.append(name)
    return drift


def _comparable(value):
    """An address's absent and null parts (line2) are the same thing."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    return value


def reconcile(sample: int = DEFAULT_SAMPLE, *, all_: bool = False, repair: bool = False,
              on_progress: Callable[[int], None] | None = None) -> dict:
    if sample < 1:
        raise InvalidInput("sample", "must be at least 1")
    rt = runtime()
    run_id = uuid.uuid4().hex[:12]
    counts = Counter(checked=0, matched=0, mismatched=0, missing=0, errors=0)
    drift_by_field: Counter = Counter()
    inconsistent: list[str] = []
    drifted: list[tuple[dict, list[str]]] = []
    for row in (reconcile_store.every_customer(STREAM_BATCH) if all_
                else reconcile_store.recent_customers(WINDOW, sample)):
        grant = rt.bucket.take(max_wait_s=5.0)
        if grant.wait_s:
            time.sleep(grant.wait_s)
        try:
            found = rt.client.get_customer(row["email"], row["brand"], row["country"])
        except HomeriaAuthError:
            counts["errors"] += 1
            break   # every other call would fail the same way
        except HomeriaError:
            counts["errors"] += 1
            continue
        finally:
            if on_progress:
                on_progress(1)
        counts["checked"] += 1
        drift = compare(row, found)
        if not drift:
            counts["matched"] += 1
            continue
        counts["missing" if found is None else "mismatched"] += 1
        drift_by_field.update(drift)
        inconsistent.append(str(row["last_change_id"]))
        drifted.append((dict(row), drift))
    repairs = [_repair(row, drift, run_id) for row, drift in drifted] if repair else []
    checked = counts["checked"]
    doc = {"run": run_id, "scope": "all" if all_ else f"sample of {sample}",
           "sample": sample, **counts,
           "consistency": round(counts["matched"] / checked, 4) if checked else None,
           "target": TARGET,
           "meets_target": (counts["matched"] / checked >= TARGET) if checked else None,
           "drift_by_field": dict(drift_by_field),
           "inconsistent_change_ids": inconsistent[:50],
           "repaired": [r for r in repairs if r["action"] != "needs_a_person"],
           "not_repaired": [r for r in repairs if r["action"] == "needs_a_person"]}
    reconcile_store.save_run(doc)
    log_fn = log.warning if counts["mismatched"] or counts["missing"] else log.info
    log_fn("email_sync.reconciled", checked=checked, matched=counts["matched"],
           mismatched=counts["mismatched"], missing=counts["missing"],
           errors=counts["errors"], drift=dict(drift_by_field), repaired=len(doc["repaired"]))
    return doc


def _repair(row: dict, drift: list[str], run_id: str) -> dict:
    """Re-send one customer's drifted fields through the normal producer path."""
    from sync_worker import enqueue_email_change, enqueue_profile_change

    who = {"customer_id": row["customer_id"], "brand": row["brand"],
           "country": row["country"]}
    request = f"reconcile:{run_id}:{row['brand']}:{row['country']}:{row['customer_id']}"
    if "customer_ref" in drift:
        return {**who, "action": "needs_a_person", "fields": drift,
                "why": "Homeria holds the email on another customer_ref"}
    done: dict = {**who, "action": "resent", "fields": drift, "change_ids": []}
    if "email" in drift:
        previous = row["previous_email"]
        rt = runtime()
        try:
            holder = previous and rt.client.get_customer(previous, row["brand"], row["country"])
        except HomeriaError:
            holder = None
        if not holder or holder.customer_ref != row["customer_ref"]:
            return {**who, "action": "needs_a_person", "fields": drift,
                    "why": "Homeria holds neither the synced nor the previous email"}
        receipt = enqueue_email_change(row["customer_id"], previous, row["email"], row["brand"],
                                       row["country"], requested_by="reconcile",
                                       request_id=f"{request}:email")
        done["change_ids"].append(str(receipt.change_id))
    wanted = expected_fields(row["field_changes"])
    fields = {k: wanted[k] for k in PROFILE_FIELDS
              if k in wanted and (k in drift or "email" in drift)}
    if fields:
        receipt = enqueue_profile_change(row["customer_id"], row["email"], row["brand"],
                                         row["country"], fields, requested_by="reconcile",
                                         request_id=f"{request}:profile")
        done["change_ids"].append(str(receipt.change_id))
    return done


def last_run(conn) -> dict | None:
    row = reconcile_store.last_run(conn)
    if row is None:
        return None
    doc = dict(row)
    doc["ran_at"] = row["ran_at"].isoformat(timespec="seconds")
    doc["consistency"] = round(row["matched"] / row["checked"], 4) if row["checked"] else None
    doc["target"] = TARGET
    return doc
