"""Order events from outside Python — `relay enqueue order-event` and
`POST /v1/order-events` — recorded and summarised the same way.

`record_documents(items)`: one event goes through `record_order_events` and the summary
lists its notifications (the first call's, if the event_id is known); many go through
`notifications.bulk.record_bulk` (every item validated first, then written by one worker
process per core for large inputs). The summary is what `--json` prints and the API
returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from notifications.bulk import Item, record_bulk
from notifications.models import parse_event
from notifications.producer import existing, record_order_events
from relay.db import transaction


def record_documents(items: Sequence[Item], *, jobs: int | None = None,
                     on_batch: Callable[[int], None] | None = None) -> dict:
    """Record `items` ((where, document) pairs); raises InvalidInput listing every bad
    field (nothing written)."""
    started = time.perf_counter()
    if len(items) == 1:   # one event: show its notifications (the first ones if repeated)
        event = parse_event(items[0][1], where=items[0][0])
        intake = record_order_events([event])
        notes = intake.notifications
        if not intake.new_events:
            with transaction() as tx:
                notes = existing(tx, event.event_id)
        doc = {"events": 1, "new_events": intake.new_events, "duplicates": intake.duplicates,
               "notifications": len(intake.notifications), "by_state": intake.by_state(),
               "suppressed": intake.suppressed_by_reason(), "jobs": 1,
               "notification_list": [n.as_dict() for n in notes]}
    else:
        result = record_bulk(items, jobs=jobs, on_batch=on_batch)
        doc = {"events": result.events, "new_events": result.new_events,
               "duplicates": result.duplicates, "notifications": result.notifications,
               "by_state": dict(result.by_state), "suppressed": dict(result.suppressed),
               "jobs": result.jobs}
    elapsed = time.perf_counter() - started
    doc["seconds"] = round(elapsed, 3)
    doc["events_per_s"] = round(doc["events"] / elapsed) if elapsed else None
    return doc
