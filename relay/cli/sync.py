"""`relay sync show CHANGE_ID` and `relay sync reconcile`: the email sync for on-call."""

from __future__ import annotations

import uuid

import typer
from rich.table import Table

from relay.cli import app
from relay.cli.common import console, emit_json, settings
from relay.errors import InvalidInput, NotFound

sync_app = typer.Typer(help="Email sync to Homeria.", no_args_is_help=True)
app.add_typer(sync_app, name="sync")

_SHOWN = ("id", "state", "customer_id", "brand", "country", "request_id", "requested_by",
          "requested_at", "carried_by", "carried_count", "failures", "last_outcome",
          "last_status_code", "customer_ref", "synced_at", "finished_at", "delivery")


@sync_app.command("show")
def show_cmd(change_id: str = typer.Argument(..., metavar="CHANGE_ID"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """One email change: its state, what carried it, and every attempt (emails masked)."""
    settings()
    try:
        cid = uuid.UUID(change_id)
    except ValueError:
        raise InvalidInput("CHANGE_ID", "not a UUID") from None
    from relay import attempts
    from relay.db import connection
    from relay.logs import mask_email
    from sync_worker import store
    from sync_worker.payload import delivery_key

    with connection() as conn:
        row = store.get(conn, cid)
        history = attempts.history(conn, cid) if row else []
        conn.commit()
    if row is None:
        raise NotFound(f"no email change {change_id}")
    doc = {k: row[k] for k in _SHOWN}
    # the key the next (or last) request goes under: the change id, or a replay's own key
    doc["idempotency_key"] = str(delivery_key(row["id"], row["delivery"]))
    doc["current_email"] = mask_email(row["current_email"])
    doc["new_email"] = mask_email(row["new_email"])
    doc["attempts"] = history
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
