"""`relay dlq list | show | stats`: look at dead letters without changing them."""

from __future__ import annotations

import typer
from rich.table import Table

from relay import deadletters
from relay.cli.common import console, emit_json, err_console, settings
from relay.cli.dlq import options
from relay.cli.dlq.options import BRAND, COUNTRY, JSON, NEWER, OLDER, REASON, TASK
from relay.cli.dlq.tables import age, cell, print_rows, print_table


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
    filters = options.filters(task, reason, brand, country, older_than, newer_than, state,
                              limit)
    rows = deadletters.find(filters)
    if as_json:
        emit_json({"count": len(rows), "limit": limit, "dead_letters": rows})
        return
    cols = ("id", "kind", "entity", "reason", "http", "tries", "brand", "age", "state",
            "error")
    print_table(None, cols, [
        (str(r["id"]), cell(r["kind"]), cell(r["entity_id"]), cell(r["reason"]),
         cell(r["status_code"]), str(r["attempts"]),
         f"{r['brand'] or '-'} {r['country'] or ''}".strip(), age(r["age_s"]),
         cell(r["state"]), cell(r["error"])) for r in rows],
        flex="error", right={"id", "http", "tries"}, empty="no dead letters match")
    if len(rows) == limit:
        err_console.print(f"showing the newest {limit}; raise --limit to see more")


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
        facts.add_row(key, cell(doc.get(key)))
    facts.add_row("age", age(doc["age_s"]))
    console.print(facts)
    print_rows("Attempts", doc["attempts_history"],
               ("started_at", "latency_ms", "status_code", "outcome", "detail", "worker"))
    print_rows("Audit", doc["events"], ("at", "action", "by", "note"))
    print_rows("Other dead letters of this entity", doc["other_dead_letters"],
               ("id", "state", "reason", "created_at"))
    if doc["state"] == "open":
        err_console.print(f"replay: relay dlq replay {doc['id']} --why '…'   "
                          f"discard: relay dlq discard {doc['id']} --why '…'")


def stats_cmd(as_json: bool = JSON) -> None:
    """Counts by kind, reason and state, and the age of the oldest open dead letter.

    Example: relay dlq stats --json | jq .open_by_kind
    """
    settings()
    doc = deadletters.stats()
    if as_json:
        emit_json(doc)
        return
    title = f"Dead letters: {doc['open_total']} open, oldest {age(doc['oldest_open_age_s'])}"
    print_table(title, ("kind", "reason", "state", "count", "oldest"),
                [(cell(g["kind"]), cell(g["reason"]), g["state"], str(g["count"]),
                  age(g["oldest_age_s"])) for g in doc["groups"]],
                right={"count"}, empty="no dead letters")
