"""`relay orders show ORDER_ID [--json]`: an order's events, notifications, attempts and
in-app inbox entries, with times. (On-time status is added by the SLA work.)"""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from relay.cli import app
from relay.cli.common import console, emit_json, settings

orders_app = typer.Typer(help="Look at one order's notifications.", no_args_is_help=True)
app.add_typer(orders_app, name="orders")


def _t(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if value else ""


@orders_app.command("show")
def show_cmd(
    order_id: str = typer.Argument(..., help="The order id, e.g. SO-5531."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Events, notifications (state, reason, sent_at, deadline), attempts and inbox.

    Example: relay orders show SO-5531 --json | jq '.notifications[] | {channel, state}'
    """
    settings()
    from notifications.oncall import order_timeline

    doc = order_timeline(order_id)
    if as_json:
        emit_json(doc)
        return
    _print(doc)


_ON_TIME_STYLE = {"on_time": "green", "late": "bold red", "at_risk": "yellow"}


def _on_time(status: str) -> str:
    style = _ON_TIME_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


def _print(doc: dict) -> None:
    events = Table(title=f"Order {doc['order_id']}: events", show_edge=False)
    for col in ("event", "type", "occurred", "received", "deadline", "on time"):
        events.add_column(col)
    for e in doc["events"]:
        events.add_row(e["event_id"], e["type"], _t(e["occurred_at"]), _t(e["received_at"]),
                       _t(e["deadline"]), _on_time(e["on_time"]))
    console.print(events)
    notes = Table(title="Notifications", show_edge=False)
    for col in ("event", "channel", "state", "reason", "queue", "tries", "sent at",
                "on time", "provider id"):
        notes.add_column(col)
    for n in doc["notifications"]:
        notes.add_row(n["event_id"], n["channel"], n["state"], n["reason"] or "",
                      n["routed_queue"] or n["queue"], str(n["attempts"]), _t(n["sent_at"]),
                      _on_time(n["on_time"]), n["provider_message_id"] or "")
    console.print(notes)
    tries = Table(title="Attempts", show_edge=False)
    for col in ("event", "channel", "started", "ms", "status", "outcome", "detail"):
        tries.add_column(col)
    for n in doc["notifications"]:
        for a in n["attempts_log"]:
            tries.add_row(n["event_id"], n["channel"], _t(a["started_at"]),
                          "" if a["latency_ms"] is None else f"{a['latency_ms']:.0f}",
                          str(a["status_code"] or ""), a["outcome"], a["detail"] or "")
    console.print(tries)
    if doc["inbox"]:
        inbox = Table(title="In-app inbox", show_edge=False)
        for col in ("created", "title", "body", "read"):
            inbox.add_column(col)
        for m in doc["inbox"]:
            inbox.add_row(_t(m["created_at"]), m["title"], m["body"], _t(m["read_at"]))
        console.print(inbox)
