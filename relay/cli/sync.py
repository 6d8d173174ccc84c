"""`relay sync show CHANGE_ID` and `relay sync reconcile`: the email sync for on-call."""

from __future__ import annotations

import uuid

import typer
from rich.table import Table

from relay.cli import app
from relay.cli.common import console, emit_json, settings
from relay.errors import InvalidInput

sync_app = typer.Typer(help="Email sync to Homeria.", no_args_is_help=True)
app.add_typer(sync_app, name="sync")

@sync_app.command("show")
def show_cmd(change_id: str = typer.Argument(..., metavar="CHANGE_ID"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """One email change: its state, what carried it, and every attempt (emails masked)."""
    settings()
    try:
        cid = uuid.UUID(change_id)
    except ValueError:
        raise InvalidInput("CHANGE_ID", "not a UUID") from None
    from sync_worker.ops import change_details

    doc = change_details(cid)
    history = doc["attempts"]
    if as_json:
        emit_json(doc)
        return
    for key, value in doc.items():
        if key != "attempts":
            console.print(f"[bold]{key:>16}[/bold]  {value if value is not None else '-'}")
    table = Table(title="Attempts", show_edge=False)
    for col in ("started", "status", "outcome", "latency ms", "detail", "idempotency key"):
        table.add_column(col, no_wrap=col == "idempotency key")
    for a in history:
        table.add_row(a["started_at"].isoformat(timespec="milliseconds"),
                      str(a["status_code"] or "-"), a["outcome"],
                      f"{a['latency_ms']:.1f}" if a["latency_ms"] is not None else "-",
                      a["detail"] or "", a["idempotency_key"] or "-")
    console.print(table)


@sync_app.command("reconcile")
def reconcile_cmd(sample: int = typer.Option(200, "--sample", min=1, max=10_000),
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """Check recently synced changes against Homeria (GET /v1/customers); stores the run."""
    settings()
    from sync_worker.reconcile import reconcile

    doc = reconcile(sample=sample)
    if as_json:
        emit_json(doc)
        return
    console.print(f"checked {doc['checked']} of sample {sample}: matched {doc['matched']}, "
                  f"mismatched {doc['mismatched']}, missing {doc['missing']}, "
                  f"errors {doc['errors']}")
    if doc["mismatched"] or doc["missing"]:
        raise SystemExit(1)
