"""`relay enqueue …`: the producer APIs from a shell.

`order-event FILE|-`: one JSON event, or JSON Lines for many. The whole input is validated
before anything is written (a bad line → exit 2 naming the line and field, nothing
written); then events are recorded in batches with a progress bar on stderr, by one worker
process per core for large inputs (`notifications/bulk.py`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from relay.cli import app
from relay.cli.common import console, emit_json, err_console, settings
from relay.errors import InvalidInput
from relay.jsonlines import parse_lines

enqueue_app = typer.Typer(help="Hand work to relay from a shell.", no_args_is_help=True)
app.add_typer(enqueue_app, name="enqueue")

def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    if not path.is_file():
        raise InvalidInput("FILE", f"no such file: {source}")
    return path.read_text(encoding="utf-8")


def _documents(text: str) -> list[tuple[str | None, object]]:
    """[(where, doc)]: one JSON document (object or array), else JSON Lines."""
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        return [(None, whole)]
    if isinstance(whole, list):
        return [(f"item {i}", doc) for i, doc in enumerate(whole)]
    return parse_lines(text, what="FILE", items="events")


@enqueue_app.command("order-event")
def order_event_cmd(
    source: str = typer.Argument(..., metavar="FILE|-", help="JSON or JSON Lines; - is stdin."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    jobs: int = typer.Option(None, "--jobs", "-j", min=1, max=64,
                             help="Worker processes for large inputs (default: one per core "
                                  "from 2,000 events, else 1)."),
) -> None:
    """Record order events (see docs/contracts/relay.md: OrderEvent); repeated event_ids are
    skipped.

    Example: relay enqueue order-event events.jsonl --json | jq .new_events
    """
    settings()
    from rich.progress import Progress

    from notifications.intake import record_documents

    items = _documents(_read(source))
    if len(items) == 1:
        doc = record_documents(items)
    else:
        with Progress(console=err_console, transient=True) as progress:
            bar = progress.add_task("recording events", total=len(items))
            doc = record_documents(items, jobs=jobs,
                                   on_batch=lambda n: progress.advance(bar, n))
    if as_json:
        emit_json(doc)
        return
    console.print(f"{doc['events']} event(s): {doc['new_events']} new, "
                  f"{doc['duplicates']} already known; {doc['notifications']} notification(s) "
                  f"{doc['by_state']}; suppressed {doc['suppressed'] or 'none'} "
                  f"in {doc['seconds']} s")
    for n in doc.get("notification_list", []):
        console.print(f"  {n['channel']:<6} {n['state']:<10} {n['reason'] or ''} {n['id']}")


@enqueue_app.command("email-change")
def email_change_cmd(
    customer_id: str = typer.Option(..., "--customer-id", help="The customer's id (≤ 64)."),
    current_email: str = typer.Option(..., "--current-email"),
    new_email: str = typer.Option(..., "--new-email"),
    brand: str = typer.Option(..., "--brand", help="One of BRANDS."),
    country: str = typer.Option(..., "--country", help="ISO 3166-1 alpha-2, e.g. ES."),
    requested_by: str = typer.Option(None, "--requested-by", help="Who asked (agent id)."),
    request_id: str = typer.Option(None, "--request-id",
                                   help="Idempotency: a repeated id returns the first change."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Queue an email change for Homeria; prints the change id.

    Example: relay enqueue email-change --customer-id C-1001 --current-email ana@example.com
    --new-email ana.s@example.com --brand acme --country ES --request-id ticket-884
    """
    settings()
    from sync_worker import enqueue_email_change

    receipt = enqueue_email_change(customer_id, current_email, new_email, brand, country,
                                   requested_by=requested_by, request_id=request_id)
    _print_receipt(receipt, as_json)


@enqueue_app.command("profile-change")
def profile_change_cmd(
    customer_id: str = typer.Option(..., "--customer-id", help="The customer's id (≤ 64)."),
    email: str = typer.Option(..., "--email", help="The customer's current email."),
    brand: str = typer.Option(..., "--brand", help="One of BRANDS."),
    country: str = typer.Option(..., "--country", help="ISO 3166-1 alpha-2, e.g. ES."),
    phone: str = typer.Option(None, "--phone", help="E.164, e.g. +34600000000."),
    first_name: str = typer.Option(None, "--first-name"),
    last_name: str = typer.Option(None, "--last-name"),
    address: str = typer.Option(None, "--address",
                                help='JSON: {"line1","line2","city","postal_code","country"}'),
    clear: list[str] = typer.Option(None, "--clear", metavar="FIELD",
                                    help="Clear a field at Homeria (phone, first_name, "
                                         "last_name, address); repeatable."),
    requested_by: str = typer.Option(None, "--requested-by", help="Who asked (agent id)."),
    request_id: str = typer.Option(None, "--request-id",
                                   help="Idempotency: a repeated id returns the first change."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Queue a profile change for Homeria (after any earlier change of the customer);
    prints the change id.

    Example: relay enqueue profile-change --customer-id C-1001 --email ana@example.com
    --brand acme --country ES --phone +34600000001 --last-name Ruiz --request-id ticket-885
    """
    settings()
    from sync_worker import enqueue_profile_change
    from sync_worker.profile_models import PROFILE_FIELDS

    changes: dict = {}
    for name, value in (("phone", phone), ("first_name", first_name),
                        ("last_name", last_name)):
        if value is not None:
            changes[name] = value
    if address is not None:
        try:
            changes["address"] = json.loads(address)
        except json.JSONDecodeError as exc:
            raise InvalidInput("--address", f"not valid JSON: {exc.msg}") from None
    for name in clear or ():
        if name not in PROFILE_FIELDS:
            raise InvalidInput("--clear", f"must be one of {', '.join(PROFILE_FIELDS)}")
        if name in changes:
            raise InvalidInput("--clear", f"{name} is both set and cleared")
        changes[name] = None
    receipt = enqueue_profile_change(customer_id, email, brand, country, changes,
                                     requested_by=requested_by, request_id=request_id)
    _print_receipt(receipt, as_json)


def _print_receipt(receipt, as_json: bool) -> None:
    """Email and profile changes answer alike: the id on stdout, how it was taken on stderr."""
    if as_json:
        emit_json(receipt.as_dict())
        return
    console.print(str(receipt.change_id), highlight=False)
    if receipt.duplicate:
        err_console.print(f"request id already seen: this is its first change "
                          f"(state {receipt.state})")
    elif receipt.queued_behind:
        err_console.print("queued behind an earlier change of this customer")
