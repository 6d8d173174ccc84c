"""The soak's steady producers, through relay's public producer APIs.

Email changes: customers seeded at the Homeria stand-in, each moving along its own chain
of addresses (soak-<run>-<i>-<k>@example.com → …-<k+1>), sometimes two or three links
back to back (A→B→C) so the order rule is exercised; a few for customers Homeria does not
know (expected: dead-lettered as customer_not_found).

Order events: orders walk order_confirmed → packed → shipped → out_for_delivery →
delivered a few seconds apart, customers preferring email, SMS or push; one order in 50
belongs to a customer whose every channel fails permanently (a bouncing address and
Twilio's invalid test number: expected dead letters). The order number shown to the
customer carries the event's tag (`SO-<run>-<n>-<stage>`), so an SMS — which carries no
notification id — can be matched to its event from the SMS stand-in's own record.

A producer call that fails (PostgreSQL restarting) is retried under the same request_id /
event_id, which relay answers idempotently, for at most RETRY_S seconds.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from soaklib.checks import Change, Event

STAGES = (("order_confirmed", "oc"), ("packed", "pk"), ("shipped", "sh"),
          ("out_for_delivery", "od"), ("delivered", "dl"))
CODES = {code: name for name, code in STAGES}
BRAND, CHANGE_COUNTRY, EVENT_COUNTRY, LOCALE = "globex", "ES", "GB", "en-GB"
RETRY_S = 90.0
STAGE_GAP_S = 4.0


def email_of(run: str, customer: int, k: int) -> str:
    return f"soak-{run}-{customer}-{k}@example.com"


def tag_of(run: str, order: int, code: str) -> str:
    return f"{run}-{order}-{code}"


@dataclass
class _Order:
    n: int
    stage: int = 0
    last_at: float = 0.0


class Traffic:
    """Two producer threads; `changes` and `events` hold what relay confirmed."""

    def __init__(self, run: str, customers: int, change_rate: float, event_rate: float,
                 sla_s: int, rng: random.Random) -> None:
        self.run, self.customers, self.sla_s, self.rng = run, customers, sla_s, rng
        self.change_rate, self.event_rate = change_rate, event_rate
        self.changes: list[Change] = []
        self.events: list[Event] = []
        self.errors: Counter = Counter()        # producer call failures, by exception type
        self.gave_up: list[str] = []            # request ids never confirmed
        self._head = dict.fromkeys(range(customers), 0)   # customer -> newest address index
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._changes_loop, daemon=True),
                         threading.Thread(target=self._events_loop, daemon=True)]

    def seed_docs(self) -> list[dict]:
        """The customers to seed at the Homeria stand-in (/_control/seed)."""
        return [{"brand": BRAND, "country": CHANGE_COUNTRY, "email": email_of(self.run, i, 0)}
                for i in range(self.customers)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=RETRY_S + 10)

    def _paced(self, rate: float, step) -> None:
        """Call step() `rate` times a second until stopped (bounded by the stop event)."""
        started, n = time.monotonic(), 0
        while not self._stop.is_set():
            step()
            n += 1
            self._stop.wait(max(0.0, started + n / rate - time.monotonic()))

    def _retrying(self, request_id: str, call):
        deadline = time.monotonic() + RETRY_S
        while True:
            try:
                return call()
            except Exception as exc:
                from relay.errors import InvalidInput

                if isinstance(exc, InvalidInput):
                    raise   # the soak built a bad request: a bug here, not a fault
                self.errors[type(exc).__name__] += 1
                if time.monotonic() > deadline or self._stop.wait(0.5):
                    self.gave_up.append(request_id)
                    return None

    # -- email changes -----------------------------------------------------------------
    def _changes_loop(self) -> None:
        from sync_worker import enqueue_email_change

        seq = 0

        def step() -> None:
            nonlocal seq
            if self.rng.random() < 0.02:
                self._change(enqueue_email_change, f"X-{self.run}-{seq}", f"unknown-{seq}",
                             seq, 0, "dead_letter")
                seq += 1
                return
            if not self._head:
                return
            customer = self.rng.choice(list(self._head))
            for _ in range(self.rng.choice((1, 1, 2, 3))):   # A→B, sometimes A→B→C→D
                if not self._change(enqueue_email_change, f"C-{self.run}-{customer}",
                                    str(customer), seq, self._head[customer], "applied"):
                    break
                seq += 1
        self._paced(self.change_rate, step)

    def _change(self, enqueue, customer_id: str, who: str, seq: int, k: int,
                expect: str) -> bool:
        """One change; for a known customer it moves address k to k+1 of its chain."""
        if expect == "applied":
            current, new = email_of(self.run, int(who), k), email_of(self.run, int(who), k + 1)
        else:
            current, new = f"{who}-{self.run}@example.com", f"{who}-{self.run}-new@example.com"
        request_id = f"soak-{self.run}-change-{seq}"
        receipt = self._retrying(request_id, lambda: enqueue(
            customer_id=customer_id, current_email=current, new_email=new, brand=BRAND,
            country=CHANGE_COUNTRY, requested_by="soak", request_id=request_id))
        if receipt is None:
            # Never confirmed, so it may or may not exist: this chain stops here.
            if expect == "applied":
                self._head.pop(int(who), None)
            return False
        self.changes.append(Change(str(receipt.change_id), customer_id, k, current, new, expect))
        if expect == "applied":
            self._head[int(who)] = k + 1
        return True

    # -- order events ------------------------------------------------------------------
    def _events_loop(self) -> None:
        from notifications import record_order_event

        open_orders: list[_Order] = []
        counter = 0

        def step() -> None:
            nonlocal counter
            now = time.monotonic()
            ready = [o for o in open_orders if now - o.last_at >= STAGE_GAP_S]
            if ready and (len(open_orders) >= 40 or self.rng.random() < 0.75):
                order = self.rng.choice(ready)
                order.stage += 1
            else:
                counter += 1
                order = _Order(counter)
                open_orders.append(order)
            order.last_at = now
            self._event(record_order_event, order)
            if order.stage == len(STAGES) - 1:
                open_orders.remove(order)
        self._paced(self.event_rate, step)

    def _event(self, record, order: _Order) -> None:
        name, code = STAGES[order.stage]
        doc = self.event_doc(order.n, name, code)
        if self._retrying(doc["event_id"], lambda: record(doc)) is None:
            return
        deadline = datetime.fromisoformat(doc["occurred_at"]).timestamp() + self.sla_s
        hopeless = order.n % 50 == 0
        self.events.append(Event(doc["event_id"], name, deadline,
                                 "dead_letter" if hopeless else "sent"))

    def event_doc(self, n: int, name: str, code: str) -> dict:
        tag = tag_of(self.run, n, code)
        hopeless = n % 50 == 0
        prefs = ([["email", "sms"]] * 5 + [["sms", "email"]] * 3
                 + [["push", "email"], ["email", "push"]])[n % 10]
        order_id = f"SO-{self.run}-{n}"
        return {
            "event_id": f"ev-{tag}", "type": name, "order_id": order_id,
            "occurred_at": datetime.now(UTC).isoformat(), "brand": BRAND,
            "country": EVENT_COUNTRY, "locale": LOCALE,
            "customer": {
                "customer_id": f"O-{self.run}-{n}",
                "email": f"bounce-{self.run}-{n}@example.com" if hopeless
                else f"order-{self.run}-{n}@example.com",
                "phone": "+15005550001" if hopeless else f"+4477009{n % 100000:05d}",
                "push_token": f"soak-{self.run}-{n}",
                "channels": ["email", "sms"] if hopeless else prefs,
                "marketing_opt_in": False},
            "order": {"number": f"SO-{tag}", "items": [{"sku": "X1", "name": "Lamp", "qty": 1}],
                      "carrier": "UPS", "tracking_number": f"1Z{n:08d}",
                      "tracking_url": f"https://track.example/{order_id}"},
        }
