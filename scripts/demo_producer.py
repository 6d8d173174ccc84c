"""Enqueue a little demo traffic through relay's public producer APIs.

Run against `scripts/run` (whose Homeria stand-in seeds customer{n}@example.com for
acme/globex in ES/FR): `python scripts/demo_producer.py [--email-changes 5] [--orders 3]`.
Each kind of traffic is one function, so others can be added beside it.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def email_changes(count: int = 5, brand: str = "acme", country: str = "ES") -> list[str]:
    """Change customer{n}@example.com -> customer{n}.demo-<tag>@example.com, n = 1..count;
    the first customer gets a second change right away (it queues behind the first, or is
    coalesced with it). Returns the change ids."""
    from sync_worker import enqueue_email_change

    tag = uuid.uuid4().hex[:6]
    ids = []
    for n in range(1, count + 1):
        receipt = enqueue_email_change(
            customer_id=f"DEMO-{n}", current_email=f"customer{n}@example.com",
            new_email=f"customer{n}.demo-{tag}@example.com", brand=brand, country=country,
            requested_by="demo_producer", request_id=f"demo-{tag}-{n}")
        ids.append(str(receipt.change_id))
    follow_up = enqueue_email_change(
        customer_id="DEMO-1", current_email=f"customer1.demo-{tag}@example.com",
        new_email=f"customer1.demo-{tag}-b@example.com", brand=brand, country=country,
        requested_by="demo_producer", request_id=f"demo-{tag}-1b")
    ids.append(str(follow_up.change_id))
    if count >= 2:   # a phone and name change, in the customer's order after the email one
        from sync_worker import enqueue_profile_change

        profile = enqueue_profile_change(
            customer_id="DEMO-2", email=f"customer2.demo-{tag}@example.com", brand=brand,
            country=country, changes={"phone": "+34600000002", "first_name": "Demo"},
            requested_by="demo_producer", request_id=f"demo-{tag}-2p")
        ids.append(str(profile.change_id))
    return ids


STAGES = ("order_confirmed", "shipped", "packed", "out_for_delivery", "delivered")


def order_events(count: int = 3, brand: str = "acme", country: str = "ES") -> list[str]:
    """An order update for each of `count` customers (each at another stage), plus a
    promotion; customer 2 has no phone (its SMS is suppressed with a reason), customer 3
    has not opted in to marketing (the promotion is suppressed). Returns the event ids."""
    from notifications import record_order_events

    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:6]
    events = []
    for n in range(1, count + 1):
        customer = {
            "customer_id": f"DEMO-{n}", "email": f"customer{n}@example.com",
            "phone": None if n == 2 else f"+3460000{n:04d}", "push_token": f"demo-token-{n}",
            "channels": ["email", "sms", "push", "inapp"], "marketing_opt_in": n != 3,
        }
        order = {"number": f"SO-{tag}-{n}", "items": [{"sku": "X1", "name": "Lamp", "qty": 1}],
                 "carrier": "UPS", "tracking_number": f"1Z{tag}{n}",
                 "tracking_url": f"https://track.example/1Z{tag}{n}",
                 "eta": (now + timedelta(days=2)).date().isoformat()}
        # one stage per customer: sending a whole journey at once would (rightly) mark the
        # earlier stages superseded by the later ones
        kind = STAGES[n % len(STAGES)]
        events.append({
            "event_id": f"demo-{tag}-{n}-{kind}", "type": kind, "order_id": order["number"],
            "occurred_at": (now - timedelta(seconds=30)).isoformat(),
            "brand": brand, "country": country, "locale": "es-ES",
            "customer": customer, "order": order})
        events.append({
            "event_id": f"demo-{tag}-{n}-promo", "type": "promotion",
            "occurred_at": now.isoformat(), "brand": brand, "country": country,
            "locale": "es-ES", "customer": customer,
            "campaign": {"id": "winter", "name": "Winter sale", "subject": "Winter sale: -20%",
                         "url": "https://shop.example/winter"}})
    record_order_events(events)
    return [e["event_id"] for e in events]


def report(change_ids: list[str], event_ids: list[str], wait_s: float = 15.0) -> None:
    """Wait a little, then say what became of the demo traffic."""
    from relay.db import connection

    deadline = time.monotonic() + wait_s
    while True:
        with connection() as conn:
            changes = conn.execute(
                """SELECT state, count(*) AS n FROM (
                       SELECT id, state FROM email_changes UNION ALL
                       SELECT id, state FROM profile_changes) c
                   WHERE id::text = ANY(%s) GROUP BY state""", (change_ids,)).fetchall()
            notes = conn.execute(
                "SELECT state, count(*) AS n FROM notifications WHERE event_id = ANY(%s)"
                " GROUP BY state", (event_ids,)).fetchall()
            conn.commit()
        by_change = {r["state"]: r["n"] for r in changes}
        by_note = {r["state"]: r["n"] for r in notes}
        settled = not {"pending", "in_flight", "sending"} & (set(by_change) | set(by_note))
        if settled or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print(f"demo email changes: {by_change}  (one of them a profile change)")
    print(f"demo notifications: {by_note}  (quiet hours may park promotions)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--email-changes", type=int, default=5, metavar="N")
    parser.add_argument("--orders", type=int, default=3, metavar="N")
    parser.add_argument("--brand", default="acme")
    parser.add_argument("--country", default="ES")
    parser.add_argument("--no-wait", action="store_true", help="do not wait to report outcomes")
    args = parser.parse_args(argv)
    from relay.logs import configure_logging

    configure_logging("WARNING")
    change_ids = email_changes(min(args.email_changes, 10), args.brand, args.country) \
        if args.email_changes else []
    event_ids = order_events(min(args.orders, 10), args.brand, args.country) \
        if args.orders else []
    print(f"demo producer: {len(change_ids)} email changes, {len(event_ids)} order events")
    if not args.no_wait:
        report(change_ids, event_ids)
    return 0


if __name__ == "__main__":
    sys.exit(main())
