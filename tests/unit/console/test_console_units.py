"""Plain functions of the console: red/amber/green, the review's CSV, the refresh cache."""

from __future__ import annotations

import csv
import io
import threading
import time

from notifications.sla.reports import Cell
from relay.console.cache import Refreshing
from relay.console.figures import rag_at_least, rag_at_most
from relay.console.review import csv_of
from tests.support import wait_until


def test_rag_against_targets():
    assert [rag_at_most(v, 0.01) for v in (0.0, 0.01, 0.015, 0.02, 0.03, None)] == [
        "green", "green", "amber", "amber", "red", "none"]
    assert [rag_at_least(v, 0.95) for v in (1.0, 0.95, 0.93, 0.90, 0.89, None)] == [
        "green", "green", "amber", "amber", "red", "none"]


def _report() -> dict:
    email, sms = Cell(events=10, on_time=9, late=1), Cell(events=4, on_time=4)
    email.buckets[1], sms.buckets[0] = 9, 4
    overall = Cell()
    overall.add(email)
    overall.add(sms)
    return {"overall": overall.summary(),
            "by_channel": {"email": email.summary(), "sms": sms.summary()},
            "by_event_type": {"shipped": overall.summary()}, "by_brand": {},
            "by_country": {}, "dead_letters": {"by_reason": {"max_age": 2}}}


def test_review_csv_has_a_row_per_slice_and_the_dead_letter_reasons():
    rows = list(csv.DictReader(io.StringIO(csv_of(_report()))))
    assert [(r["dimension"], r["value"], r["events"]) for r in rows] == [
        ("overall", "all", "14"), ("channel", "email", "10"), ("channel", "sms", "4"),
        ("event_type", "shipped", "14"), ("dead_letter_reason", "max_age", "2")]
    assert rows[1]["otnr"] == "0.9" and rows[2]["late"] == "0"


def test_refreshing_serves_the_last_value_and_recomputes_in_the_background():
    calls, gate = [], threading.Event()

    def compute(key):
        calls.append(key)
        if len(calls) > 1:
            gate.wait(5)
        return len(calls)

    cache = Refreshing(compute, max_age_s=0.05)
    assert cache.get("a")[0] == 1          # the first request computes
    time.sleep(0.1)
    assert cache.get("a")[0] == 1          # stale: served at once, refresh started
    gate.set()
    wait_until(lambda: cache.get("a")[0] == 2, timeout=5, message="the refresh")
    assert calls[:2] == ["a", "a"]
