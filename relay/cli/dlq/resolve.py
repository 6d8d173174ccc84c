"""`relay dlq replay | discard`: resolve dead letters by id or by filter, audited; a replay
then waits for what became of each (delivered, dead-lettered again, still pending)."""

from __future__ import annotations

import sys
import time

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from relay import deadletters
from relay.alerts import TIMES
from relay.cli.common import console, emit_json, err_console, settings
from relay.cli.dlq import options
from relay.cli.dlq.options import (
    ALL,
    BRAND,
    BY,
    COUNTRY,
    DRY,
    IDS,
    JSON,
    NEWER,
    NO_WAIT,
    OLDER,
    REASON,
    TASK,
    WAIT,
    WHY,
    YES,
)
from relay.cli.dlq.tables import cell, print_table
from relay.deadletters import Filters, outcomes
from relay.errors import InvalidInput
from relay.logs import scrub, scrub_value


def replay_cmd(ids: list[int] = IDS, all_: bool = ALL, task: str = TASK, reason: str = REASON,
               brand: str = BRAND, country: str = COUNTRY, older_than: str = OLDER,
               newer_than: str = NEWER, dry_run: bool = DRY, yes: bool = YES, by: str = BY,
               why: str = WHY, as_json: bool = JSON, wait: float = WAIT,
               no_wait: bool = NO_WAIT) -> None:
    """Put dead-lettered work back through the normal path (outbox, queue, task), then
    wait (--wait, default 30 s) and report what happened to each: delivered, dead-lettered
    again (with the reason), or still pending.

    Already replayed or discarded entries are skipped. If the work fails again, a new
    dead letter opens. Examples: relay dlq replay 42 --why 'INC-118 fixed' ;
    relay dlq replay --all --task email_change --reason customer_not_found --dry-run
    """
    _resolve_cmd("replay", ids, all_, (task, reason, brand, country, older_than, newer_than),
                 dry_run, yes, by, why, as_json, wait=None if no_wait else wait)


def discard_cmd(ids: list[int] = IDS, all_: bool = ALL, task: str = TASK, reason: str = REASON,
                brand: str = BRAND, country: str = COUNTRY, older_than: str = OLDER,
                newer_than: str = NEWER, dry_run: bool = DRY, yes: bool = YES, by: str = BY,
                why: str = WHY, as_json: bool = JSON) -> None:
    """Close dead letters without replaying them (kept, with an audit event).

    Example: relay dlq discard --all --reason invalid_payload --older-than 7d --why 'bad import'
    """
    _resolve_cmd("discard", ids, all_, (task, reason, brand, country, older_than, newer_than),
                 dry_run, yes, by, why, as_json)


def _resolve_cmd(verb: str, ids: list[int] | None, all_: bool, filter_args: tuple,
                 dry_run: bool, yes: bool, by: str | None, why: str | None,
                 as_json: bool, wait: float | None = None) -> None:
    settings()
    if ids and all_:
        raise InvalidInput("ID/--all", "give dead letter ID(s) or --all, not both")
    if not ids and not all_:
        raise InvalidInput("ID/--all", "give at least one dead letter ID, or --all "
                                       "(with optional filters such as --task)")
    if not all_ and any(filter_args):
        raise InvalidInput("--all", "filters (--task, --reason, --brand, --country, "
                                    "--older-than, --newer-than) only apply with --all")
    who = options.who(by)
    filters = options.filters(*filter_args) if all_ else None
    selected = deadletters.ids_matching(filters) if all_ else list(dict.fromkeys(ids))
    if all_ and not dry_run and selected and not yes:
        _confirm(verb, selected, filters)
    fn = deadletters.replay if verb == "replay" else deadletters.discard
    started = time.perf_counter()
    results = _run_with_progress(fn, selected, who, why, dry_run, show=all_)
    elapsed = time.perf_counter() - started
    after = None
    if wait is not None and not dry_run:
        after = _wait_for_outcomes(results, wait, quiet=as_json)
    _report(verb, results, selected, dry_run, who, elapsed, as_json, after)
    if any(not r.ok for r in results):
        raise SystemExit(1)


def _confirm(verb: str, ids: list[int], filters: Filters) -> None:
    if not sys.stdin.isatty():
        raise InvalidInput("--yes", f"refusing to {verb} {len(ids)} dead letter(s) without "
                                    "confirmation: stdin is not a terminal. Pass --yes, or "
                                    "--dry-run to preview")
    groups: dict[str, int] = {}
    wanted = set(ids)
    for row in deadletters.find(filters.with_state("open")):
        if row["id"] in wanted:
            key = f"{row['kind']}/{row['reason']}"
            groups[key] = groups.get(key, 0) + 1
    err_console.print(", ".join(f"{k}{TIMES}{n}" for k, n in groups.items()))
    if not typer.confirm(f"{verb.capitalize()} {len(ids)} dead letter(s)?", err=True):
        err_console.print(f"aborted: nothing was {verb}ed")
        raise SystemExit(1)


def _run_with_progress(fn, ids, who, why, dry_run, show: bool):
    if not show:
        return fn(ids, by=who, why=why, dry_run=dry_run)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console, transient=False) as progress:
        bar = progress.add_task("dry run" if dry_run else fn.__name__, total=len(ids))
        return fn(ids, by=who, why=why, dry_run=dry_run,
                  on_result=lambda _r: progress.advance(bar))


def _wait_for_outcomes(results, timeout: float, *, quiet: bool):
    """Poll the replayed entities' outcomes (stderr shows the tally); (outcomes, waited)."""
    replayed = [(r.id, r.kind, r.entity_id) for r in results if r.outcome == "replayed"]
    if not replayed:
        return [], 0.0
    started = time.monotonic()
    if quiet or not err_console.is_terminal:
        found = outcomes.wait(replayed, timeout)
    else:
        with err_console.status("waiting for the outcomes") as status:
            found = outcomes.wait(replayed, timeout, on_poll=lambda now: status.update(
                "waiting for the outcomes: " + _tally(outcomes.counts(now))))
    return found, time.monotonic() - started


def _tally(counts: dict[str, int]) -> str:
    return (f"{counts['delivered']} delivered, {counts['dead_again']} dead-lettered again, "
            f"{counts['pending']} still pending"
            + (f", {counts['finished']} finished undelivered" if counts["finished"] else ""))


def _report(verb, results, selected, dry_run, who, elapsed, as_json, after=None) -> None:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    found, waited = after if after is not None else (None, 0.0)
    if as_json:
        doc = deadletters.summary(verb, results, selected, dry_run, who, elapsed)
        if found is not None:
            by_id = {o.id: o for o in found}
            doc["outcomes"] = outcomes.counts(found)
            doc["waited_s"] = round(waited, 3)
            for item in doc["results"]:
                o = by_id.get(item["id"])
                item["after"] = None if o is None else {
                    "outcome": o.outcome, "state": o.state, "reason": o.reason,
                    "dead_letter_id": o.dead_letter_id}
        emit_json(scrub_value(doc))
        return
    if not selected:
        console.print(f"no open dead letters match; nothing to {verb}")
        return
    if dry_run:
        print_table(f"{verb} --dry-run: nothing changed", ("id", "kind", "entity", "outcome"),
                    [(str(r.id), cell(r.kind), cell(r.entity_id), cell(r.message))
                     for r in results], flex="outcome", right={"id"})
    for r in [r for r in results if r.outcome in {"skipped", "failed", "not_found"}][:50]:
        err_console.print(("" if r.ok else "[red]error:[/red] ") + escape(scrub(r.message)))
    summary = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items()))
    console.print(f"{summary} in {elapsed:.1f} s (by {escape(who)})")
    if found:
        _print_outcomes(found, waited)


def _print_outcomes(found: list, waited: float) -> None:
    """Per item (all of them when few, else the ones not delivered), then the tally."""
    shown = found if len(found) <= 50 else [o for o in found if o.outcome != "delivered"][:50]
    words = {"delivered": "delivered", "dead_again": "dead-lettered again",
             "pending": "still pending", "finished": "finished, not delivered"}
    print_table(None, ("id", "kind", "entity", "now", "state", "reason"),
                [(str(o.id), cell(o.kind), cell(o.entity_id), words[o.outcome],
                  cell(o.state),
                  cell(o.reason and f"{o.reason} (dead letter {o.dead_letter_id})"))
                 for o in shown], flex="reason", right={"id"}, empty="")
    tally = outcomes.counts(found)
    reasons: dict[str, int] = {}
    for o in found:
        if o.outcome == "dead_again":
            reasons[o.reason] = reasons.get(o.reason, 0) + 1
    why = ", ".join(f"{r}{TIMES}{n}" for r, n in sorted(reasons.items()))
    console.print(f"after {waited:.1f} s: " + _tally(tally).replace(
        "dead-lettered again", f"dead-lettered again{f' ({why})' if why else ''}", 1),
        soft_wrap=True)   # one line, however narrow: scripts grep it
    if tally["pending"]:
        err_console.print("still pending: see `relay dlq list`, `relay sync show ID` or "
                          "`relay orders show ID` later, or wait longer with --wait")
