"""`relay dlq ...`: on-call work on dead letters (list, show, replay, discard, stats, purge).

People get Rich tables on stdout; `--json` prints exactly one JSON document on stdout.
Prompts, progress bars and notes go to stderr. Every string shown passes the PII scrubber.
"""

from __future__ import annotations

import getpass
import os
import sys
import time

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from relay import deadletters
from relay.alerts import TIMES
from relay.cli import app
from relay.cli.common import console, emit_json, err_console, settings
from relay.deadletters import Filters, outcomes, parse_duration
from relay.errors import InvalidInput
from relay.logs import scrub, scrub_value

dlq_app = typer.Typer(help="Dead letters: see what failed and why, replay or discard it.",
                      no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")

TASK = typer.Option(None, "--task", help="Task kind, e.g. email_change, notification.")
REASON = typer.Option(None, "--reason", help="Reason code, e.g. customer_not_found.")
BRAND = typer.Option(None, "--brand", help="Brand code.")
COUNTRY = typer.Option(None, "--country", help="Country code (ISO 3166-1 alpha-2).")
OLDER = typer.Option(None, "--older-than", help="Dead-lettered at least this long ago: 1h, 7d.")
NEWER = typer.Option(None, "--newer-than", help="Dead-lettered within this long: 30m, 24h.")
JSON = typer.Option(False, "--json", help="One JSON document on stdout, nothing else.")
IDS = typer.Argument(None, help="Dead letter id(s).", show_default=False)
ALL = typer.Option(False, "--all", help="Every OPEN dead letter matching the filters.")
DRY = typer.Option(False, "--dry-run", help="Show what would happen; change nothing.")
YES = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation (bulk).")
BY = typer.Option(None, "--by", help="Who is doing this (audit). Default: $USER.")
WHY = typer.Option(None, "--why", help="Why (audit note), e.g. a ticket or incident.")
WAIT = typer.Option(outcomes.DEFAULT_WAIT_SECONDS, "--wait", min=0, metavar="SECONDS",
                    help="After replaying, wait up to this long for the outcomes "
                         "(delivered, dead-lettered again, still pending).")
NO_WAIT = typer.Option(False, "--no-wait", help="Only queue the replays; do not wait.")


def _filters(task, reason, brand, country, older_than, newer_than, state="open",
             limit=None) -> Filters:
    older = parse_duration(older_than, "--older-than") if older_than else None
    newer = parse_duration(newer_than, "--newer-than") if newer_than else None
    try:
        return Filters(kind=task, reason=reason, brand=brand, country=country,
                       older_than=older, newer_than=newer, state=state, limit=limit)
    except InvalidInput as exc:  # name the option the user typed
        raise InvalidInput(f"--{exc.field}", exc.message) from None


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            rest = s % size
            sub = {"d": ("h", 3600), "h": ("m", 60), "m": ("s", 1)}[unit]
            return f"{s // size}{unit}" + (f" {rest // sub[1]}{sub[0]}" if rest >= sub[1] else "")
    return f"{s}s"


def _cell(value) -> str:
    return "-" if value in (None, "") else escape(scrub(str(value)))


def _who(by: str | None) -> str:
    name = (by or os.environ.get("USER") or "").strip()
    if not name:
        try:
            name = getpass.getuser()
        except Exception:
            name = ""
    if not name:
        raise InvalidInput("--by", "cannot tell who you are ($USER is unset); pass --by NAME")
    return name


@dlq_app.command("list")
def list_cmd(task: str = TASK, reason: str = REASON, brand: str = BRAND,
             country: str = COUNTRY, older_than: str = OLDER, newer_than: str = NEWER,
             state: str = typer.Option("open", "--state",
                                       help="open, replayed, discarded or all."),
             limit: int = typer.Option(50, "--limit", min=1, help="At most this many rows."),
             as_json: bool = JSON) -> None:
    """List dead letters, newest first (open ones unless --state says otherwise).

    Example: relay dlq list --task email_change --reason customer_not_found --older-than 1h
    """
    settings()
    filters = _filters(task, reason, brand, country, older_than, newer_than, state, limit)
    rows = deadletters.find(filters)
    if as_json:
        emit_json({"count": len(rows), "limit": limit, "dead_letters": rows})
        return
    cols = ("id", "kind", "entity", "reason", "http", "tries", "brand", "age", "state",
            "error")
    _print_table(None, cols, [
        (str(r["id"]), _cell(r["kind"]), _cell(r["entity_id"]), _cell(r["reason"]),
         _cell(r["status_code"]), str(r["attempts"]),
         f"{r['brand'] or '-'} {r['country'] or ''}".strip(), _age(r["age_s"]),
         _cell(r["state"]), _cell(r["error"])) for r in rows],
        flex="error", right={"id", "http", "tries"}, empty="no dead letters match")
    if len(rows) == limit:
        err_console.print(f"showing the newest {limit}; raise --limit to see more")


@dlq_app.command("show")
def show_cmd(dead_letter_id: int = typer.Argument(..., metavar="ID", help="Dead letter id."),
             as_json: bool = JSON) -> None:
    """Everything about one dead letter: why, the attempts history, and the audit trail.

    Example: relay dlq show 42 --json | jq .attempts_history
    """
    settings()
    doc = deadletters.show(dead_letter_id)
    if as_json:
        emit_json(doc)
        return
    facts = Table(show_header=False, show_edge=False, title=f"Dead letter {doc['id']}")
    facts.add_column(style="bold")
    facts.add_column()
    for key in ("kind", "entity_id", "state", "reason", "status_code", "attempts", "brand",
                "country", "first_failed_at", "last_failed_at", "replay_count", "resolved_at",
                "resolved_by", "resolution_note", "error", "response_excerpt"):
        facts.add_row(key, _cell(doc.get(key)))
    facts.add_row("age", _age(doc["age_s"]))
    console.print(facts)
    _print_rows("Attempts", doc["attempts_history"],
                ("started_at", "latency_ms", "status_code", "outcome", "detail", "worker"))
    _print_rows("Audit", doc["events"], ("at", "action", "by", "note"))
    _print_rows("Other dead letters of this entity", doc["other_dead_letters"],
                ("id", "state", "reason", "created_at"))
    if doc["state"] == "open":
        err_console.print(f"replay: relay dlq replay {doc['id']} --why '…'   "
                          f"discard: relay dlq discard {doc['id']} --why '…'")


def _print_rows(title: str, rows: list[dict], cols: tuple[str, ...]) -> None:
    if not rows:
        console.print(f"[bold]{title}[/bold]: none")
        return
    flex = "detail" if "detail" in cols else ("note" if "note" in cols else None)
    _print_table(title, cols, [tuple(_cell(row.get(c)) for c in cols) for row in rows],
                 flex=flex)


def _print_table(title: str | None, cols: tuple[str, ...], rows: list[tuple[str, ...]], *,
                 flex: str | None = None, right: set[str] = frozenset(),
                 empty: str = "nothing") -> None:
    """A table whose identifying columns are never cut: they keep their natural width and
    only `flex` (free text) shrinks. Wider than the terminal, lines wrap rather than lose
    an id; piped output (Rich assumes 80 columns) stays whole."""
    if not rows:
        console.print(empty)
        return
    table = Table(title=title, show_edge=False, pad_edge=False)
    needed = 0
    for i, col in enumerate(cols):
        natural = max(len(col), *(len(r[i]) for r in rows))
        if col == flex:
            table.add_column(col, overflow="ellipsis", no_wrap=True, ratio=1,
                             max_width=120)
            needed += min(natural, 40) + 3
        else:
            table.add_column(col, no_wrap=True, min_width=natural,
                             justify="right" if col in right else "left")
            needed += natural + 3
    for row in rows:
        table.add_row(*row)
    if needed <= console.width:
        console.print(table)
    else:  # Console.print(width=) can only narrow; a wider console for this table
        Console(width=needed, force_terminal=console.is_terminal or None,
                no_color=console.no_color).print(table)


@dlq_app.command("replay")
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


@dlq_app.command("discard")
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
    who = _who(by)
    filters = _filters(*filter_args) if all_ else None
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
        _print_table(f"{verb} --dry-run: nothing changed", ("id", "kind", "entity", "outcome"),
                     [(str(r.id), _cell(r.kind), _cell(r.entity_id), _cell(r.message))
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
    _print_table(None, ("id", "kind", "entity", "now", "state", "reason"),
                 [(str(o.id), _cell(o.kind), _cell(o.entity_id), words[o.outcome],
                   _cell(o.state),
                   _cell(o.reason and f"{o.reason} (dead letter {o.dead_letter_id})"))
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


@dlq_app.command("stats")
def stats_cmd(as_json: bool = JSON) -> None:
    """Counts by kind, reason and state, and the age of the oldest open dead letter.

    Example: relay dlq stats --json | jq .open_by_kind
    """
    settings()
    doc = deadletters.stats()
    if as_json:
        emit_json(doc)
        return
    title = f"Dead letters: {doc['open_total']} open, oldest {_age(doc['oldest_open_age_s'])}"
    _print_table(title, ("kind", "reason", "state", "count", "oldest"),
                 [(_cell(g["kind"]), _cell(g["reason"]), g["state"], str(g["count"]),
                   _age(g["oldest_age_s"])) for g in doc["groups"]],
                 right={"count"}, empty="no dead letters")


@dlq_app.command("purge")
def purge_cmd(older_than: str = typer.Option(
                  None, "--older-than",
                  help="Resolved this long ago. Default: DEAD_LETTER_RETENTION_DAYS (30d)."),
              dry_run: bool = DRY, yes: bool = YES, as_json: bool = JSON) -> None:
    """Delete replayed/discarded dead letters past retention (open ones never); audited.

    The beat does this on its own; run it by hand to catch up. Example:
    relay dlq purge --older-than 90d --dry-run
    """
    settings()
    age = parse_duration(older_than, "--older-than") if older_than else deadletters.retention()
    count = deadletters.purge(age, dry_run=True)
    if not dry_run and count and not yes:
        if not sys.stdin.isatty():
            raise InvalidInput("--yes", f"refusing to purge {count} resolved dead letter(s) "
                                        "without confirmation: pass --yes")
        if not typer.confirm(f"Purge {count} resolved dead letter(s)?", err=True):
            raise SystemExit(1)
    purged = count if dry_run else deadletters.purge(age, by=f"{_who(None)} (cli)")
    if as_json:
        emit_json({"dry_run": dry_run, "older_than_s": age.total_seconds(),
                   "would_purge" if dry_run else "purged": purged})
    else:
        console.print(f"{'would purge' if dry_run else 'purged'} {purged} resolved dead "
                      f"letter(s) older than {_age(age.total_seconds())}")
