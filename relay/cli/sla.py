"""`relay sla report [--since 24h | --month 2026-11] [--json]`: is relay keeping its
2-hour promise? OTNR overall and by event type, channel, brand and country; breaches;
error rate; p50/p95/p99 send latency; dead letters. Counting rules: notifications/sla/."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from relay.cli import app
from relay.cli.common import console, emit_json, settings
from relay.errors import InvalidInput

sla_app = typer.Typer(help="The 2-hour notification SLA.", no_args_is_help=True)
app.add_typer(sla_app, name="sla")

_TITLES = {"by_event_type": "event type", "by_channel": "channel", "by_brand": "brand",
           "by_country": "country"}


@sla_app.command("report")
def report_cmd(
    since: str = typer.Option(None, "--since", help="Trailing window: 90m, 24h, 7d."),
    month: str = typer.Option(None, "--month", help="A calendar month (UTC): 2026-11."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """OTNR, breaches, error rate and send latency (default: the last 24 h).

    Example: relay sla report --month 2026-11 --json | jq .overall.otnr
    """
    from notifications.sla import reports

    now = datetime.now(UTC)
    if since is not None and month is not None:
        raise InvalidInput("--since/--month", "give one of them, not both")
    start, end = (reports.parse_month(month, now) if month is not None
                  else reports.parse_since(since or "24h", now))
    settings()
    doc = reports.report(start, end, now)
    if as_json:
        emit_json(doc)
        return
    _print(doc)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f} %"


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 60:.1f} min" if value >= 120 else f"{value:.1f} s"


def _table(title: str, rows: dict[str, dict]) -> Table:
    table = Table(title=title, show_edge=False)
    first = title.split(" by ")[-1]
    for col in (first, "events", "OTNR", "late", "unsent", "breached", "errors", "p50",
                "p95", "p99"):
        table.add_column(col, justify="left" if col == first else "right", no_wrap=True)
    for name, r in rows.items():
        lat = r["latency_s"]
        table.add_row(name, str(r["events"]), _pct(r["otnr"]),
                      str(r["late"]), str(r["unsent_late"]), str(r["breached"]),
                      _pct(r["error_rate"]), _s(lat["p50"]), _s(lat["p95"]), _s(lat["p99"]))
    return table


def _print(doc: dict) -> None:
    o = doc["overall"]
    verdict = {True: "[green]met[/green]", False: "[red]missed[/red]", None: "no data"}
    span = " → ".join(doc["range"][k][:16].replace("T", " ") for k in ("start", "end"))
    console.print(f"[bold]SLA report[/bold] {span} UTC"
                  f"  (SLA {doc['sla_seconds'] / 3600:g} h, target {_pct(doc['target'])}:"
                  f" {verdict[doc['met']]})")
    console.print(_table("Overall by all", {"all": o}))
    for key, label in _TITLES.items():
        if doc[key]:
            console.print(_table(f"OTNR by {label}", doc[key]))
    dead = doc["dead_letters"]
    reasons = ", ".join(f"{k} {v}" for k, v in dead["by_reason"].items()) or "none"
    console.print(f"Dead letters (notifications): {dead['total']} ({dead['open']} open):"
                  f" {reasons}")
    src = doc["sources"]
    console.print(f"[dim]from {src['rollup_days']} rolled-up day(s) and "
                  f"{len(src['live'])} live range(s)[/dim]")
