"""Bulk intake in worker processes (notifications/bulk.py): all-or-nothing validation,
every event recorded once, failures reported, the parent's connections left alone."""

from __future__ import annotations

import json

import pytest

from notifications import bulk
from relay.db import connection
from relay.errors import InvalidInput, RelayError
from tests.support import run_cli
from tests.support.events import event
from tests.support.rows import table_count


def items(docs) -> list[tuple[str, dict]]:
    return [(f"line {i + 1}", doc) for i, doc in enumerate(docs)]


def test_two_workers_record_every_event_once_and_report_each_batch(db, broker):
    docs = [event() for _ in range(45)] + [event("promotion") for _ in range(5)]
    seen = []
    result = bulk.record_bulk(items(docs), jobs=2, batch=10, on_batch=seen.append)
    assert (result.events, result.new_events, result.duplicates, result.jobs) == (50, 50, 0, 2)
    assert sum(seen) == 50 and max(seen) <= 10
    assert result.notifications == 100 and result.by_state == {"pending": 50, "standby": 45,
                                                                "suppressed": 5}
    assert table_count("order_events") == 50 and table_count("outbox") == 50
    assert table_count("notifications") == 100
    # again, plus one new: nothing doubles
    again = bulk.record_bulk(items([*docs, event()]), jobs=2)
    assert (again.new_events, again.duplicates) == (1, 50)
    assert table_count("order_events") == 51


def test_one_bad_event_in_any_shard_rejects_the_input_and_names_the_first(db, broker):
    docs = [event() for _ in range(40)]
    docs[33]["customer"]["email"] = "nope"          # in the second shard
    docs[35]["country"] = "ZZ"                     # also bad, later
    with pytest.raises(InvalidInput) as caught:
        bulk.record_bulk(items(docs), jobs=2)
    assert caught.value.field == "line 34: customer.email"
    assert table_count("order_events") == table_count("notifications") == table_count("outbox") == 0
    # with bad events in both shards, the earliest by position is reported
    docs[2]["locale"] = "xx"
    with pytest.raises(InvalidInput, match=r"^line 3: locale"):
        bulk.record_bulk(items(docs), jobs=2)
    assert table_count("order_events") == 0


def test_an_event_repeated_across_shards_is_recorded_once(db, broker):
    shared = event()
    docs = [shared, *[event() for _ in range(8)], dict(shared)]
    result = bulk.record_bulk(items(docs), jobs=2)
    assert (result.new_events, result.duplicates) == (9, 1)
    assert table_count("order_events") == 9


def test_a_worker_failing_while_writing_is_reported_and_a_rerun_completes(db, broker,
                                                                          monkeypatch):
    # given a writer that fails on its second batch (in the forked workers too)
    from notifications import producer

    real = producer.record_order_events
    calls = {"n": 0}

    def flaky(events):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("database went away")
        return real(events)

    monkeypatch.setattr(bulk, "record_order_events", flaky)
    docs = [event() for _ in range(40)]
    with pytest.raises(RelayError, match="database went away") as caught:
        bulk.record_bulk(items(docs), jobs=2, batch=10)
    assert "Run the same input again" in str(caught.value)
    # each worker committed its first batch only
    assert table_count("order_events") == 20
    # when it is run again with a healthy writer, only the missing events are recorded
    monkeypatch.setattr(bulk, "record_order_events", real)
    rerun = bulk.record_bulk(items(docs), jobs=2, batch=10)
    assert (rerun.new_events, rerun.duplicates) == (20, 20)
    assert table_count("order_events") == 40


def test_the_parents_connections_survive_the_workers(db, broker, monkeypatch):
    # given the parent holds pooled connections (as the CLI does after looking things up)
    import gc
    from contextlib import ExitStack

    from notifications import producer
    from relay.db import get_pool

    def sessions(n: int) -> set[int]:
        with ExitStack() as stack:
            conns = [stack.enter_context(connection()) for _ in range(n)]
            pids = {c.execute("SELECT pg_backend_pid() AS p").fetchone()["p"] for c in conns}
            for c in conns:
                c.commit()
        return pids

    sessions(3)   # the pool holds at least three connections now; take them all
    size = get_pool().get_stats()["pool_size"]
    before = sessions(size)
    assert len(before) == size >= 3
    # when forked workers open their own connections, and collect garbage (as a long-lived
    # child would, sooner or later), then exit
    def collecting(events):
        intake = producer.record_order_events(events)
        gc.collect()
        return intake

    monkeypatch.setattr(bulk, "record_order_events", collecting)
    bulk.record_bulk(items([event() for _ in range(6)]), jobs=2)
    # then every one of the parent's sessions still answers: none was closed or finalized
    assert sessions(size) == before


def test_small_inputs_stay_in_one_process_and_jobs_are_checked(db, broker):
    assert bulk.default_jobs(10) == 1
    assert bulk.default_jobs(bulk.PARALLEL_MIN_EVENTS) >= 1
    result = bulk.record_bulk(items([event(), event()]))
    assert (result.jobs, result.new_events) == (1, 2)
    with pytest.raises(InvalidInput, match="jobs"):
        bulk.record_bulk(items([event()]), jobs=0)


def test_cli_uses_workers_for_a_large_file(relay_env, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(event()) for _ in range(300)) + "\n")
    result = run_cli(["enqueue", "order-event", str(path), "--jobs", "2", "--json"],
                     relay_env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["events"], summary["new_events"], summary["jobs"]) == (300, 300, 2)
    assert summary["by_state"] == {"pending": 300, "standby": 300}
    bad = tmp_path / "bad.jsonl"
    lines = [json.dumps(event()) for _ in range(10)]
    lines[7] = json.dumps(event(customer__phone="600"))
    bad.write_text("\n".join(lines) + "\n")
    result = run_cli(["enqueue", "order-event", str(bad), "-j", "2"], relay_env)
    assert result.returncode == 2 and "line 8: customer.phone" in result.stderr
