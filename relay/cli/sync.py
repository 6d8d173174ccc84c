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
    """One email or profile change: its state, what carried it, and every attempt (emails
    masked; for a profile change the fields it sets, not their values)."""
    settings()
    try:
        cid = uuid.UUID(change_id)
    except ValueError:
        raise InvalidInput("CHANGE_ID", "not a UUID") from None
    from relay.errors import NotFound
    from sync_worker.oncall import change_details
    from sync_worker.oncall import profile_change_details as profile_details

    try:
        doc = change_details(cid)
    except NotFound:   # a profile change, or nothing
        doc = profile_details(cid)
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
def reconcile_cmd(sample: int = typer.Option(200, "--sample", min=1, max=10_000,
                                             help="Customers synced in the last day."),
                  all_: bool = typer.Option(False, "--all",
                                            help="Every customer with something synced "
                                                 "(streamed, with a progress bar)."),
                  repair: bool = typer.Option(False, "--repair",
                                              help="Re-send what drifted, through the "
                                                   "normal path."),
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """Compare every synced field (email, customer_ref, phone, names, address) with
    Homeria (GET /v1/customers) and report the consistency rate against the 99 % target;
    stores the run. Exit 1 when something drifted (after repairing it with --repair).

    Example: relay sync reconcile --all --repair
    """
    settings()
    from sync_worker.reconcile import reconcile
    from sync_worker.reconcile_store import count_customers

    if all_:
        from rich.progress import Progress

        from relay.cli.common import err_console

        with Progress(console=err_console, transient=True) as progress:
            bar = progress.add_task("checking customers", total=count_customers())
            doc = reconcile(sample=sample, all_=True, repair=repair,
                            on_progress=lambda n: progress.advance(bar, n))
    else:
        doc = reconcile(sample=sample, repair=repair)
    if as_json:
        emit_json(doc)
    else:
        rate = "-" if doc["consistency"] is None else f"{doc['consistency']:.2%}"
        verdict = {True: "meets", False: "BELOW", None: "no data for"}[doc["meets_target"]]
        console.print(f"{doc['scope']}: checked {doc['checked']}, consistent "
                      f"{doc['matched']}, drifted {doc['mismatched']}, missing "
                      f"{doc['missing']}, errors {doc['errors']}; consistency {rate} "
                      f"({verdict} the {doc['target']:.0%} target)", highlight=False)
        if doc["drift_by_field"]:
            console.print("drift by field: " + ", ".join(
                f"{k} {v}" for k, v in sorted(doc["drift_by_field"].items())),
                highlight=False)
        for r in doc["repaired"]:
            console.print(f"re-sent {', '.join(r['fields'])} of {r['customer_id']} "
                          f"({r['brand']}/{r['country']}): {', '.join(r['change_ids'])}",
                          highlight=False)
        for r in doc["not_repaired"]:
            console.print(f"NOT repaired {r['customer_id']} ({r['brand']}/{r['country']}): "
                          f"{r['why']}", highlight=False)
    if doc["mismatched"] or doc["missing"]:
        raise SystemExit(1)
