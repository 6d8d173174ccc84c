"""Campaign control: create, start, pause, resume, cancel, show.

start validates every audience line before anything is written (one bad line → nothing
recorded, the error names the line and the field), then records the audience through the
notifications intake (`notifications.bulk.record_bulk`: batches, one worker per core),
with the rows tagged by the campaign and published many ids per task.

pause / cancel set the campaign's state in its row — the switch every worker reads when it
claims — and then act on the unsent rows in one statement: pause parks their outbox rows,
cancel suppresses them (`reason = cancelled`) and finishes their outbox rows. Messages
still in Redis find nothing to claim. A row already claimed (a provider call in flight)
finishes within the claim; `cancel` waits for those, so when it returns nothing more of
the campaign is sent and sent + cancelled + suppressed (+ failed) = audience.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from notifications.campaigns import store
from notifications.campaigns.models import parse_spec, recipient_event
from notifications.models import OrderEvent
from relay import outbox
from relay.db import transaction
from relay.errors import InvalidInput, NotFound
from relay.logs import get_logger
from relay.settings import get_settings

log = get_logger(__name__)

RATE_WINDOW_S = 10.0


def create(doc: object) -> str:
    """Record a campaign (state `created`); a repeat of the same id is refused."""
    spec = parse_spec(doc)
    with transaction() as tx:
        if not store.insert(tx, spec):
            raise InvalidInput("id", f"campaign {spec.id} already exists")
    log.info("campaign.created", campaign_id=spec.id)
    return spec.id


def _spec_of(row: dict):
    return parse_spec({k: row[k] for k in ("id", "name", "subject", "url", "brand",
                                           "expires", "max_per_second")})


def _load(campaign_id: str) -> dict:
    with transaction() as tx:
        row = store.get(tx, campaign_id)
    if row is None:
        raise NotFound(f"no campaign {campaign_id}")
    return row


def start(campaign_id: str, audience: Sequence[tuple[str, object]], *,
          jobs: int | None = None, on_batch: Callable[[int], None] | None = None):
    """Validate the whole audience ([(where, line document)]), then record it and set the
    campaign running. Starting again with more lines adds the new recipients only."""
    from notifications.bulk import record_bulk

    row = _load(campaign_id)
    if row["state"] == "cancelled":
        raise InvalidInput("ID", f"campaign {campaign_id} was cancelled")
    if not audience:
        raise InvalidInput("audience", "no customers in the audience file")
    spec = _spec_of(row)
    occurred_at = datetime.now(UTC)
    _no_customer_twice(audience)

    def parse(doc: object, where: str | None) -> OrderEvent:
        return recipient_event(spec, doc, occurred_at, where or "audience")

    # every line is validated by the bulk intake's workers (one per core) before any is
    # written: one bad line anywhere and nothing is recorded, every bad line named
    result = record_bulk(audience, jobs=jobs, on_batch=on_batch, campaign_id=campaign_id,
                         parse=parse, before_write=lambda: _running(campaign_id, row),
                         nice=get_settings().campaign_intake_nice)
    log.info("campaign.started", campaign_id=campaign_id, recipients=result.new_events,
             duplicates=result.duplicates)
    return result


def _no_customer_twice(audience: Sequence[tuple[str, object]]) -> None:
    """A customer on two lines is refused, naming both (ids compared as validation will
    hold them: whitespace stripped)."""
    seen: dict[str, str] = {}
    for where, doc in audience:
        if isinstance(doc, dict) and isinstance(doc.get("customer_id"), str):
            first = seen.setdefault(doc["customer_id"].strip(), where)
            if first != where:
                raise InvalidInput(f"{where}: customer_id",
                                   f"customer already in the audience at {first}")


def _running(campaign_id: str, row: dict) -> None:
    """Set the campaign running before its first row exists: workers send at once."""
    if row["state"] == "created":
        with transaction() as tx:
            store.set_state(tx, campaign_id, "running")


def _control(campaign_id: str, allowed: tuple[str, ...], to: str) -> dict:
    with transaction() as tx:
        row = store.get(tx, campaign_id, lock=True)
        if row is None:
            raise NotFound(f"no campaign {campaign_id}")
        if row["state"] not in allowed:
            raise InvalidInput("ID", f"campaign {campaign_id} is {row['state']}; "
                                     f"cannot {to} it")
        store.set_state(tx, campaign_id, to)
        return row


def pause(campaign_id: str) -> int:
    """Stop sending; unsent rows wait in the outbox. Returns how many were parked."""
    _control(campaign_id, ("running", "paused"), "paused")
    with transaction() as tx:
        parked = store.park_unsent(tx, campaign_id)
    log.info("campaign.paused", campaign_id=campaign_id, parked=parked)
    return parked


def resume(campaign_id: str) -> int:
    """Send again: every parked row is due now and published (batched). Returns how many."""
    _control(campaign_id, ("paused", "running"), "running")
    with transaction() as tx:
        rows = store.wake_parked(tx, campaign_id)
        pubs = [outbox.Publication(r["entity_id"], r["task"], r["queue"]) for r in rows]
        tx.after_commit(lambda: outbox.publish_now(pubs))
    log.info("campaign.resumed", campaign_id=campaign_id, woken=len(rows))
    return len(rows)


def cancel(campaign_id: str, *, wait_s: float = 30.0) -> dict:
    """Cancel every unsent message, then wait (at most wait_s) for sends already in flight
    to finish. Returns {"cancelled": n, "in_flight": rows still sending after the wait}."""
    _control(campaign_id, ("created", "running", "paused", "cancelled"), "cancelled")
    with transaction() as tx:
        cancelled = store.cancel_unsent(tx, campaign_id)
    deadline = time.monotonic() + wait_s
    while True:
        with transaction() as tx:
            # a send that failed transiently went back to pending: cancel it too
            cancelled += store.cancel_unsent(tx, campaign_id)
            # rows, not recipients: a recipient has at most one row in flight, and the
            # recipients' grouped count would read the whole campaign on every turn
            sending = store.rows_in_state(tx, campaign_id, "sending")
        if not sending or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    log.info("campaign.cancelled", campaign_id=campaign_id, cancelled=cancelled,
             in_flight=sending)
    return {"cancelled": cancelled, "in_flight": sending}


def show(campaign_id: str) -> dict:
    """State, recipients by state, the send rate over the last RATE_WINDOW_S and an ETA."""
    with transaction() as tx:
        row = store.get(tx, campaign_id)
        if row is None:
            raise NotFound(f"no campaign {campaign_id}")
        counts, reasons = store.recipients(tx, campaign_id)
        rate = store.sent_rate(tx, campaign_id, RATE_WINDOW_S)
        quiet = store.parked_quiet(tx, campaign_id)
    unsent = counts.get("pending", 0) + counts.get("sending", 0)
    eta = None
    if unsent and rate > 0 and row["state"] == "running":
        eta = round(unsent / rate, 1)
    doc = {
        "id": row["id"], "name": row["name"], "brand": row["brand"], "state": row["state"],
        "expires": row["expires"].isoformat() if row["expires"] else None,
        "max_per_second": row["max_per_second"],
        "created_at": row["created_at"].isoformat(),
        "started_at": row["started_at"].isoformat() if row["started_at"] else None,
        "audience": sum(counts.values()),
        "recipients": {s: counts.get(s, 0) for s in ("sent", "sending", "pending",
                                                      "cancelled", "suppressed", "failed")},
        "suppressed_by_reason": reasons,
        "waiting_quiet_hours": quiet,
        "rate_per_second": round(rate, 1),
        "eta_seconds": eta,
        "finished": unsent == 0 and row["state"] != "created",
    }
    return doc

