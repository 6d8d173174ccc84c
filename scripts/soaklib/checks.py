"""The soak's verdict: pure functions over what the stand-ins recorded.

Each check takes plain records (what the soak produced; what Homeria applied; what the
SMTP/SMS/push stand-ins received; what the on-call webhook was told) and returns a
`Check`: a name, the figures, and the failures naming the ids. Nothing here talks to a
process, so `tests/unit/soak` can feed crafted records and prove every check can fail.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Shipping stages may supersede earlier shipping stages; a confirmation never is
# (issue 13: it is the customer's receipt of a distance contract).
SUPERSEDABLE = frozenset({"packed", "shipped", "out_for_delivery"})
SHOW = 8   # ids listed per failure line; the rest are counted


@dataclass
class Check:
    name: str
    figures: str = ""
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, what: str, ids: Iterable[str]) -> None:
        ids = sorted(ids)
        if ids:
            more = f" (+{len(ids) - SHOW} more)" if len(ids) > SHOW else ""
            self.failures.append(f"{len(ids)} {what}: {', '.join(ids[:SHOW])}{more}")


@dataclass(frozen=True)
class Change:
    """One email change the soak enqueued: `seq` is its place in its customer's chain, so
    it moves the customer from chain address `seq` (`current`) to `seq + 1` (`new`)."""
    change_id: str
    customer_id: str
    seq: int
    current: str
    new: str
    expect: str = "applied"      # or "dead_letter" (a customer Homeria does not know)


@dataclass(frozen=True)
class Event:
    """One order event the soak recorded (or a delay notice relay created)."""
    event_id: str
    type: str
    deadline: float              # unix time
    expect: str = "sent"         # or "dead_letter" (every channel fails permanently)


@dataclass(frozen=True)
class Delivery:
    """One message a provider stand-in accepted, attributed to the event it was for."""
    event_id: str
    channel: str
    at: float


@dataclass(frozen=True)
class Alert:
    """A breach alert the webhook received: for one event, or a summary of `count` more."""
    event_id: str | None
    count: int = 1


def email_changes(produced: list[Change], applied: list[Mapping],
                  dead_letters: Mapping[str, str],
                  notes: Mapping[str, str] | None = None) -> list[Check]:
    """Lost, applied twice, out of order per customer: from Homeria's applied list (bodies
    in the order applied). relay may carry several waiting changes of one customer in one
    call (A→B, B→C sent as A→C; README "How each promise is kept"), so a change counts as
    delivered when an applied body moved its customer across its step of the chain.
    `dead_letters`: change id -> reason; `notes`: change id -> what relay says of it
    (shown beside a lost change, to say where it is stuck)."""
    notes = notes or {}
    by_id = {c.change_id: c for c in produced}
    place = {}   # address -> (customer, position in its chain)
    for c in produced:
        if c.expect == "applied":
            place[c.current.lower()] = (c.customer_id, c.seq)
            place[c.new.lower()] = (c.customer_id, c.seq + 1)
    times = Counter(str(a["change_id"]) for a in applied)
    spans: dict[str, list[tuple[int, int, str]]] = {}   # customer -> (from, to, id) applied
    strays = []
    for body in applied:
        start = place.get(str(body.get("current_email")).lower())
        end = place.get(str(body.get("new_email")).lower())
        if start is None or end is None or start[0] != end[0]:
            strays.append(str(body["change_id"]))
            continue
        spans.setdefault(start[0], []).append((start[1], end[1], str(body["change_id"])))
    lost = Check("changes: 0 lost")
    twice = Check("changes: 0 applied twice at Homeria")
    order = Check("changes: 0 out of order per customer")
    expected = [c for c in produced if c.expect == "applied"]
    steps = Counter((cust, k) for cust, ss in spans.items() for a, b, _ in ss
                    for k in range(a, b))
    missing = [c.change_id for c in expected if not steps[(c.customer_id, c.seq)]]
    carried = sum(1 for c in expected if steps[(c.customer_id, c.seq)] and not times[c.change_id])
    lost.figures = (f"{len(expected) - len(missing)}/{len(expected)} applied "
                    f"({carried} carried by a later change)")
    lost.fail("changes lost (never applied)", [
        f"{i} [dead-lettered: {dead_letters[i]}]" if i in dead_letters
        else f"{i} [{notes[i]}]" if i in notes else i for i in missing])
    hopeless = [c for c in produced if c.expect == "dead_letter"]
    lost.fail("changes for unknown customers applied or not dead-lettered",
              [c.change_id for c in hopeless
               if times[c.change_id] or c.change_id not in dead_letters])
    if hopeless:
        lost.figures += f"; {len(hopeless)} for unknown customers"
    twice.figures = f"{sum(times.values())} applications"
    twice.fail("changes applied more than once", [i for i, n in times.items() if n > 1])
    twice.fail("chain steps applied more than once", [
        f"customer {cust} step {k}" for (cust, k), n in steps.items() if n > 1])
    twice.fail("applied changes the soak never sent",
               [i for i in strays if i not in by_id or by_id[i].expect == "applied"])
    wrong = []
    for cust, ss in spans.items():
        for (_, prev_to, _), (start, _, change_id) in itertools.pairwise(ss):
            if start < prev_to:
                wrong.append(f"{change_id} (customer {cust})")
    order.figures = f"{len(spans)} customers"
    order.fail("changes applied after a later change of the same customer", wrong)
    return [lost, twice, order]


def notifications(events: list[Event], deliveries: list[Delivery],
                  suppressed: Mapping[str, str], dead_letters: Mapping[str, str],
                  unattributed: Iterable[str] = (),
                  notes: Mapping[str, str] | None = None) -> list[Check]:
    """Every notification sent exactly once, or dead-lettered for a permanent reason only.
    `suppressed`: event id -> reason for events relay decided not to send at all;
    `notes`: event id -> what relay says of it (shown beside one never sent)."""
    notes = notes or {}
    count = Counter(d.event_id for d in deliveries)
    known = {e.event_id for e in events}
    once = Check("notifications: each sent exactly once")
    dead = Check("notifications: dead-lettered only for a permanent reason")
    to_send = [e for e in events if e.expect == "sent"]
    sent = [e for e in to_send if count[e.event_id] == 1]
    once.figures = (f"{len(sent)}/{len(to_send)} sent once, "
                    f"{sum(1 for e in to_send if e.event_id in suppressed)} superseded")
    lost = []
    for e in to_send:
        if count[e.event_id] or e.event_id in dead_letters:
            continue
        reason = suppressed.get(e.event_id)
        if reason == "superseded" and e.type in SUPERSEDABLE:
            continue
        note = reason or notes.get(e.event_id)
        lost.append(f"{e.event_id} [{note}]" if note else e.event_id)
    once.fail("notifications never sent", lost)
    once.fail("notifications sent more than once",
              [f"{i} x{n}" for i, n in count.items() if n > 1])
    once.fail("messages the stand-ins received for no known notification",
              [*unattributed, *(i for i in count if i not in known)])
    hopeless = [e for e in events if e.expect == "dead_letter"]
    dead.figures = f"{len(dead_letters)} dead letters, {len(hopeless)} expected"
    dead.fail("notifications dead-lettered although every failure was transient",
              [f"{e.event_id} [{dead_letters[e.event_id]}]" for e in to_send
               if e.event_id in dead_letters and not count[e.event_id]])
    dead.fail("permanently failing notifications not dead-lettered (or sent)",
              [e.event_id for e in hopeless
               if e.event_id not in dead_letters or count[e.event_id]])
    return [once, dead]


def breach_alerts(events: list[Event], deliveries: list[Delivery], alerts: list[Alert],
                  now: float, grace_s: float, suppressed: Mapping[str, str]) -> Check:
    """A breach alert for every event still unsent `grace_s` after its deadline (the SLA
    check runs on a period) — dead-lettered ones included, deliberately suppressed ones
    not; none for an event sent more than `grace_s` before it. Alerts summarised by count
    ("37 more SLA breaches") cover that many unnamed events."""
    first: dict[str, float] = {}
    for d in deliveries:
        first[d.event_id] = min(d.at, first.get(d.event_id, d.at))
    named = Counter(a.event_id for a in alerts if a.event_id)
    summarised = sum(a.count for a in alerts if a.event_id is None)
    check = Check("SLA: a breach alert for every notification past its deadline")
    due = [e for e in events if not e.event_id.startswith("delay:")
           and e.event_id not in suppressed and e.deadline + grace_s <= now
           and first.get(e.event_id, math.inf) > e.deadline + grace_s]
    unnamed = [e.event_id for e in due if not named[e.event_id]]
    check.figures = (f"{len(due)} past their deadline, {sum(named.values())} alerts named, "
                     f"{summarised} summarised")
    if len(unnamed) > summarised:
        check.fail(f"notifications past their deadline without a breach alert "
                   f"({summarised} summarised alerts cover the rest)", unnamed)
    deadline = {e.event_id: e.deadline for e in events}
    early = [i for i in named if i in first and i in deadline
             and first[i] < deadline[i] - grace_s]
    check.fail("breach alerts for notifications sent well before their deadline", early)
    return check


def process_exits(exits: Mapping[str, list[str]]) -> Check:
    """Processes that exited without the soak killing them: each should have lived."""
    check = Check("processes: none exited unless killed by the soak")
    check.figures = f"{sum(len(v) for v in exits.values())} unexpected exits"
    check.fail("unexpected process exits", [f"{name}: {why}" for name, whys in exits.items()
                                            for why in whys])
    return check


def faults_applied(outcomes: Mapping[str, str | None]) -> Check:
    """Every scheduled fault was injected: a soak that skipped one proves nothing about it."""
    check = Check("faults: every scheduled fault injected")
    check.figures = f"{sum(1 for v in outcomes.values() if v is None)}/{len(outcomes)} injected"
    check.fail("faults not injected", [f"{k}: {v}" for k, v in outcomes.items() if v])
    return check



def producers(gave_up: list[str], errors: Mapping[str, int]) -> Check:
    """Producer calls failing while PostgreSQL restarts is expected; one that never
    succeeded (retried under the same request id for a while) is not."""
    check = Check("producers: every call confirmed once PostgreSQL was back")
    check.figures = ", ".join(f"{n} {name}" for name, n in sorted(errors.items())) \
        or "no failed calls"
    check.fail("producer calls never confirmed", gave_up)
    return check


def delay_notices(events: list[Event], notices: list[Event]) -> list[Event]:
    """relay's delay notices (`delay:<event id>`), expected to fare as their event: one for
    a customer whose every channel fails permanently is retried on those channels
    (notifications/sla/delay.py) and must end as a dead letter, not count as a lost message."""
    expect = {e.event_id: e.expect for e in events}
    return [Event(n.event_id, n.type, n.deadline,
                  expect.get(n.event_id.removeprefix("delay:"), "sent")) for n in notices]
