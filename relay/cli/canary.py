"""`relay canary`"""

from __future__ import annotations

import time

import typer
from rich.table import Table

from relay import canary
from relay.cli import app
from relay.cli.common import console, emit_json, settings


@app.command("canary")
def canary_cmd(
    queue: list[str] = typer.Option(None, "--queue", "-q",
                                    help="Queue to probe (repeatable). Default: all."),
    timeout: float = typer.Option(30.0, min=0.1, help="Seconds to wait for each probe."),
    work_ms: int = typer.Option(0, min=0, max=canary.MAX_WORK_MS,
                                help="Simulated work inside the task."),
    note: str = typer.Option(None, help="Free text carried by the canary."),
    fail: bool = typer.Option(False, "--fail", help="Raise inside the task (checks Sentry)."),
    no_wait: bool = typer.Option(False, "--no-wait", help="Commit and publish, do not wait."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Send a probe through PostgreSQL, the outbox, Redis and a worker, and time it.

    Exits 1 if any probe does not complete within --timeout (a queue without a live
    consumer, a dead broker...). Example: relay canary -q homeria --timeout 5
    """
    settings()
    from relay.status import queue_names

    known = tuple(queue_names())
    targets = queue or list(known)
    sent = {q: canary.send(q, work_ms=work_ms, note=note, fail=fail, queues=known)
            for q in targets}
    results = {}
    deadline = time.monotonic() + timeout
    for q, cid in sent.items():
        row = canary.get(cid)
        while not no_wait and row["done_at"] is None and time.monotonic() < deadline:
            time.sleep(0.05)
            row = canary.get(cid)
        results[q] = {"canary_id": str(cid), "done": row["done_at"] is not None,
                      "round_trip_ms": None if row["round_trip_ms"] is None
                      else round(float(row["round_trip_ms"]), 1)}
    if as_json:
        emit_json(results)
    else:
        table = Table(show_edge=False)
        for col in ("queue", "canary", "result", "round trip"):
            table.add_column(col)
        for q, r in results.items():
            verdict = "ok" if r["done"] else ("sent" if no_wait else "[red]TIMED OUT[/red]")
            rt = f"{r['round_trip_ms']} ms" if r["round_trip_ms"] is not None else "-"
            table.add_row(q, r["canary_id"], verdict, rt)
        console.print(table)
    if not no_wait and not all(r["done"] for r in results.values()):
        raise SystemExit(1)
