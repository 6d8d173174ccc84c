"""`relay status`"""

from __future__ import annotations

import typer
from rich.table import Table

from relay.bootstrap import load_features
from relay.cli import app
from relay.cli.common import console, emit_json, settings


@app.command("status")
def status_cmd(
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Queue depths, outbox backlog, per-feature state (breaker, dead letters, SLA).

    Example: relay status --json | jq .queues
    """
    settings()
    load_features()
    from relay.status import collect

    doc = collect()
    if as_json:
        emit_json(doc)
        return
    queues = Table(title="Broker queues", show_edge=False)
    queues.add_column("queue")
    queues.add_column("waiting", justify="right")
    for name, depth in doc["queues"].items():
        queues.add_row(name, "unreachable" if depth is None else str(depth))
    queues.add_row("(delivered, unacked)", str(doc["unacked"]))
    console.print(queues)
    box = Table(title="Outbox (committed, not done)", show_edge=False)
    for col in ("kind", "due, unpublished", "in flight", "parked", "oldest age (s)"):
        box.add_column(col, justify="right" if col != "kind" else "left")
    for kind, row in doc["outbox"].items():
        box.add_row(kind, str(row["due_unpublished"]), str(row["in_flight"]),
                    str(row["parked"]), str(row["oldest_pending_age_s"]))
    if not doc["outbox"]:
        box.add_row("(nothing pending)", "", "", "", "")
    console.print(box)
    for name, section in doc.items():
        if name in {"at", "queues", "unacked", "outbox", "broker_reachable"}:
            continue
        table = Table(title=name.replace("_", " "), show_edge=False,
                      show_header=False)
        table.add_column("what", style="dim")
        table.add_column("value", justify="right")
        for key, value in _flatten(section):
            table.add_row(key, _show(key, value))
        console.print(table)


def _flatten(value, prefix: str = ""):
    """Nested section dicts as (dotted key, value) rows."""
    if isinstance(value, dict):
        if not value and prefix:
            yield prefix, "-"
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix or "value", value


def _show(key: str, value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        alarming = value and any(w in key for w in ("stale", "error"))
        return "[bold red]yes[/bold red]" if alarming else ("yes" if value else "no")
    if key.endswith("state") and value == "open":
        return "[bold red]open[/bold red]"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
