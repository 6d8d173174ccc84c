"""Bulk intake on every core: `record_bulk(items, jobs=N)`, behind `relay enqueue order-event`.

One process validates about 10,000 events a second (pydantic + email-validator) and writes
about 8,000 (COPY, planning, the outbox, one pipelined publish); done one after the other
that is under 5,000 a second, with a core idle. So a large input is cut into `jobs`
contiguous shards, each handled by a forked worker process with its own connection:

1. every worker validates its shard and reports "valid" or every bad event in it (each
   with every bad field). Nothing is written until every shard is valid; one bad event
   anywhere rejects the whole input, and the problems are reported in input order (at
   most MAX_PROBLEMS), as with one process;
2. then every worker records its shard in batches (`record_order_events`: one transaction
   and one publish per batch) and reports each batch as it commits.

A worker that fails while writing leaves its committed batches in place; running the same
input again records only what is missing (a known event_id is skipped, never doubled).
Repeats of one event_id in two shards are safe too: intake falls back to
`INSERT … ON CONFLICT DO NOTHING` when a concurrent batch wrote the same id first.

Fork, not spawn: a fresh interpreter takes about a second to import relay before doing any
work. The workers inherit the parsed input without copying it. Each opens its own
connections (relay.db re-creates the pool in a new process); psycopg never closes a
connection from a process that did not open it, so the parent's sessions are untouched.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

from notifications.models import OrderEvent, parse_event
from notifications.producer import record_order_events
from relay.errors import InvalidInput, RelayError
from relay.logs import get_logger, scrub

log = get_logger(__name__)

PARALLEL_MIN_EVENTS = 2_000   # below this, forking workers costs more than it saves
MAX_JOBS = 8
BATCH = 5_000                 # events per transaction (and per pipelined publish)

Item = tuple[str | None, object]   # (where, document): where names it in errors ("line 7")
# document, where → the validated event, or InvalidInput naming `where` and the field
Parse = Callable[[object, str | None], OrderEvent]


@dataclass
class BulkResult:
    events: int = 0
    new_events: int = 0
    duplicates: int = 0
    notifications: int = 0
    by_state: Counter = field(default_factory=Counter)
    suppressed: Counter = field(default_factory=Counter)
    jobs: int = 1

    def add(self, new: int, duplicates: int, notifications: int, by_state: dict,
            suppressed: dict) -> None:
        self.new_events += new
        self.duplicates += duplicates
        self.notifications += notifications
        self.by_state.update(by_state)
        self.suppressed.update(suppressed)


def default_jobs(events: int) -> int:
    """One process for small inputs, else one worker per core (at most MAX_JOBS)."""
    if events < PARALLEL_MIN_EVENTS:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_JOBS))


def record_bulk(items: Sequence[Item], *, jobs: int | None = None, batch: int = BATCH,
                on_batch: Callable[[int], None] | None = None,
                campaign_id: str | None = None, parse: Parse = parse_event,
                before_write: Callable[[], None] | None = None, nice: int = 0) -> BulkResult:
    """Validate every item, then record them all (see module doc). Raises InvalidInput
    listing every bad item (nothing written), RelayError if writing failed part-way.
    `campaign_id`: the items are a campaign's audience (producer.record_order_events);
    `parse` turns an item into its event (a campaign's audience line → its promotion), in
    the workers, so a large input is validated on every core too; `before_write` runs once
    every item is valid, before the first is written (if it raises, nothing is); `nice`
    lowers the CPU priority of the forked workers (not of the caller)."""
    if batch < 1:
        raise InvalidInput("batch", "must be at least 1")
    jobs = default_jobs(len(items)) if jobs is None else jobs
    if jobs < 1:
        raise InvalidInput("jobs", "must be at least 1")
    jobs = min(jobs, max(1, len(items)))
    if jobs == 1:
        return _record_here(items, batch, on_batch, campaign_id, parse, before_write)
    return _record_in_workers(items, jobs, batch, on_batch, campaign_id, parse, before_write,
                              nice)


# Every bad event is reported (each with every bad field), up to this many problems: an
# input that is wrong throughout needs one fix, not a hundred thousand lines of it.
MAX_PROBLEMS = 1_000


class _BadItem(Exception):
    def __init__(self, index: int, error: InvalidInput) -> None:
        self.index, self.error = index, error


def _parse(items: Sequence[Item], start: int, stop: int, parse: Parse = parse_event) -> list:
    """The shard's events, or _BadItem (at the first bad index) listing every problem."""
    events, bad, first = [], [], None
    problems = 0
    for i in range(start, stop):
        where, doc = items[i]
        try:
            events.append(parse(doc, where))
        except InvalidInput as exc:
            first = i if first is None else first
            bad.append(exc)
            problems += len(exc.errors)
            if problems >= MAX_PROBLEMS:
                break
    if bad:
        raise _BadItem(first, InvalidInput.combine(bad))
    return events


def _capped(error: InvalidInput) -> InvalidInput:
    if len(error.errors) <= MAX_PROBLEMS:
        return error
    errors = error.errors[:MAX_PROBLEMS]
    errors.append(("input", f"more problems not listed (the first {MAX_PROBLEMS} are)"))
    return InvalidInput(error.field, error.message, errors)


def _record_batches(events: list, batch: int, report: Callable[..., None],
                    campaign_id: str | None = None) -> None:
    for start in range(0, len(events), batch):
        chunk = events[start:start + batch]
        intake = (record_order_events(chunk, campaign_id=campaign_id) if campaign_id
                  else record_order_events(chunk))
        report(intake.events, intake.new_events, intake.duplicates,
               len(intake.notifications), intake.by_state(), intake.suppressed_by_reason())


def _record_here(items: Sequence[Item], batch: int, on_batch,
                 campaign_id: str | None = None, parse: Parse = parse_event,
                 before_write: Callable[[], None] | None = None) -> BulkResult:
    try:
        events = _parse(items, 0, len(items), parse)
    except _BadItem as bad:
        raise _capped(bad.error) from None
    if before_write:
        before_write()
    result = BulkResult(events=len(items))

    def report(n, *counts):
        result.add(*counts)
        if on_batch:
            on_batch(n)

    _record_batches(events, batch, report, campaign_id)
    return result


# -- workers ----------------------------------------------------------------------------
def _worker(conn: Connection, inherited: list[Connection], items: Sequence[Item], start: int,
            stop: int, batch: int, campaign_id: str | None = None,
            parse: Parse = parse_event, nice: int = 0) -> None:
    """One shard: validate, say so, wait for "write", record it batch by batch."""
    for other in inherited:  # the parent's ends of the pipes, copied by the fork
        other.close()
    if nice:
        os.nice(nice)
    try:
        try:
            events = _parse(items, start, stop, parse)
        except _BadItem as bad:
            conn.send(("invalid", bad.index, bad.error.errors))
            return
        conn.send(("valid", len(events)))
        if conn.recv() != "write":
            return
        _record_batches(events, batch, lambda *counts: conn.send(("batch", *counts)),
                        campaign_id)
        conn.send(("done",))
    except EOFError:
        return  # the parent gave up (another shard was invalid, or it was interrupted)
    except BaseException as exc:  # report it; the parent decides the exit code
        conn.send(("failed", scrub(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def _shards(total: int, jobs: int) -> list[tuple[int, int]]:
    size, extra = divmod(total, jobs)
    bounds, start = [], 0
    for j in range(jobs):
        stop = start + size + (1 if j < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def _record_in_workers(items: Sequence[Item], jobs: int, batch: int, on_batch,
                       campaign_id: str | None = None, parse: Parse = parse_event,
                       before_write: Callable[[], None] | None = None,
                       nice: int = 0) -> BulkResult:
    ctx = multiprocessing.get_context("fork")
    workers: list[tuple[multiprocessing.Process, Connection]] = []
    try:
        for start, stop in _shards(len(items), jobs):
            mine, theirs = ctx.Pipe()
            inherited = [conn for _, conn in workers] + [mine]
            proc = ctx.Process(target=_worker,
                               args=(theirs, inherited, items, start, stop, batch,
                                     campaign_id, parse, nice),
                               name=f"relay-intake-{start}", daemon=True)
            proc.start()
            theirs.close()
            workers.append((proc, mine))
        verdicts = [_receive(conn) for _, conn in workers]
        invalid = sorted((v for v in verdicts if v[0] == "invalid"), key=lambda v: v[1])
        failed = [v[1] for v in verdicts if v[0] == "failed"]
        go = "write" if not invalid and not failed else "stop"
        if go == "write" and before_write:
            try:
                before_write()
            except BaseException:
                for _, conn in workers:
                    _send(conn, "stop")
                raise
        for _, conn in workers:
            _send(conn, go)
        if invalid:   # every shard's problems, in input order
            errors = [e for v in invalid for e in v[2]]
            raise _capped(InvalidInput(errors[0][0], errors[0][1], errors))
        if failed:
            raise RelayError(f"bulk intake failed before writing anything: {failed[0]}")
        return _collect(workers, len(items), jobs, on_batch)
    finally:
        for _, conn in workers:
            conn.close()
        for proc, _ in workers:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join()


def _send(conn: Connection, message: str) -> None:
    try:
        conn.send(message)
    except OSError:  # that worker has already exited (it reported why)
        pass


def _receive(conn: Connection) -> tuple:
    try:
        return conn.recv()
    except EOFError:
        return ("failed", "a worker process exited unexpectedly")


def _collect(workers, events: int, jobs: int, on_batch) -> BulkResult:
    result = BulkResult(events=events, jobs=jobs)
    open_conns = {conn for _, conn in workers}
    errors: list[str] = []
    while open_conns:
        for conn in wait(list(open_conns)):
            message = _receive(conn)
            if message[0] == "batch":   # ("batch", events, new, duplicates, ...)
                result.add(*message[2:])
                if on_batch:
                    on_batch(message[1])
                continue
            open_conns.discard(conn)
            if message[0] == "failed":
                errors.append(message[1])
    if errors:
        log.error("notifications.bulk_failed", errors=errors, recorded=result.new_events)
        raise RelayError(
            f"bulk intake failed part-way ({errors[0]}); {result.new_events} new events were "
            "recorded in committed batches. Run the same input again: known events are "
            "skipped.")
    return result
