"""`relay campaign …`: create, start, pause, resume, cancel and show a campaign
(notifications/campaigns/). Bad input → exit 2 naming the field (and the audience line);
nothing is written then."""

from __future__ import annotations

import json

import typer

from relay.cli import app
from relay.cli.common import console, emit_json, err_console, settings
from relay.cli.enqueue import _read
from relay.errors import InvalidInput
from relay.jsonlines import parse_lines

campaign_app = typer.Typer(help="Promotion campaigns: create, start, pause, resume, cancel, "
                                "show.", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")


def _audience(text: str) -> list[tuple[str, object]]:
    """JSON Lines: [(\"line N\", document)], blank lines skipped."""
    return parse_lines(text, what="audience", items="customers")


@campaign_app.command("create")
def create_cmd(source: str = typer.Argument(..., metavar="FILE|-", help="The campaign, JSON."),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Record a campaign; prints its id.

    Example: relay campaign create spring.json   # {"id": "spring-26", "name": "Spring",
    "subject": "20 % off", "url": "https://shop.example/spring", "brand": "acme",
    "expires": "2026-12-01T00:00:00Z", "max_per_second": 500}
    """
    settings()
    from notifications.campaigns import service

    try:
        doc = json.loads(_read(source))
    except json.JSONDecodeError as exc:
        raise InvalidInput("FILE", f"not valid JSON: {exc.msg}") from None
    campaign_id = service.create(doc)
    if as_json:
        emit_json({"id": campaign_id})
    else:
        console.print(campaign_id, highlight=False)


@campaign_app.command("start")
def start_cmd(campaign_id: str = typer.Argument(..., metavar="ID"),
              audience: str = typer.Option(..., "--audience", metavar="FILE|-",
                                           help="JSON Lines: one customer per line."),
              jobs: int = typer.Option(None, "--jobs", "-j", min=1, max=64,
                                       help="Intake worker processes (default: one per "
                                            "core from 2,000 customers)."),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Validate the whole audience, record it, and start sending.

    Each line is the OrderEvent `customer` shape plus `country` and `locale`, e.g.
    {"customer_id": "C-1", "email": "ana@example.com", "channels": ["email"],
    "marketing_opt_in": true, "country": "ES", "locale": "es-ES"}

    Example: relay campaign start spring-26 --audience customers.jsonl
    """
    settings()
    from rich.progress import Progress

    from notifications.campaigns import service

    lines = _audience(_read(audience))
    with Progress(console=err_console, transient=True) as progress:
        bar = progress.add_task("recording the audience", total=len(lines) or 1)
        result = service.start(campaign_id, lines, jobs=jobs,
                               on_batch=lambda n: progress.advance(bar, n))
    doc = {"id": campaign_id, "recipients": result.events, "new": result.new_events,
           "already_recorded": result.duplicates, "notifications": result.notifications,
           "by_state": dict(result.by_state), "suppressed": dict(result.suppressed)}
    if as_json:
        emit_json(doc)
        return
    # `suppressed` counts notification rows (a recipient has one per channel it may get),
    # so it is named as such: "3000 suppressed" beside 3000 recipients read as all of them
    console.print(f"{campaign_id}: {doc['new']} recipient(s) recorded "
                  f"({doc['already_recorded']} already were); notifications suppressed at "
                  f"intake, by reason (a recipient has one per channel): "
                  f"{doc['suppressed'] or 'none'}")


def _control(verb: str, campaign_id: str, as_json: bool) -> None:
    settings()
    from notifications.campaigns import service

    outcome = getattr(service, verb)(campaign_id)
    doc = {"id": campaign_id, **(outcome if isinstance(outcome, dict) else {"rows": outcome})}
    if as_json:
        emit_json(doc)
    else:
        console.print(f"{campaign_id}: {verb} " + ", ".join(f"{k} {v}" for k, v in doc.items()
                                                            if k != "id"))


@campaign_app.command("pause")
def pause_cmd(campaign_id: str = typer.Argument(..., metavar="ID"),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Stop sending; unsent messages wait until resume. Example: relay campaign pause X"""
    _control("pause", campaign_id, as_json)


@campaign_app.command("resume")
def resume_cmd(campaign_id: str = typer.Argument(..., metavar="ID"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Send the paused messages. Example: relay campaign resume X"""
    _control("resume", campaign_id, as_json)


@campaign_app.command("cancel")
def cancel_cmd(campaign_id: str = typer.Argument(..., metavar="ID"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Cancel every unsent message; waits for sends in flight. Example: relay campaign
    cancel X"""
    _control("cancel", campaign_id, as_json)


@campaign_app.command("show")
def show_cmd(campaign_id: str = typer.Argument(..., metavar="ID"),
             as_json: bool = typer.Option(False, "--json", help="One JSON document.")) -> None:
    """Recipients by state, the current send rate and an ETA. Example: relay campaign show X"""
    settings()
    from notifications.campaigns import service

    doc = service.show(campaign_id)
    if as_json:
        emit_json(doc)
        return
    r = doc["recipients"]
    console.print(f"{doc['id']} ({doc['name']}, {doc['brand']}): {doc['state']}; "
                  f"audience {doc['audience']}")
    console.print("  " + "  ".join(f"{k} {v}" for k, v in r.items()))
    if doc["suppressed_by_reason"]:
        console.print(f"  suppressed: {doc['suppressed_by_reason']}")
    eta = f"{doc['eta_seconds']} s" if doc["eta_seconds"] is not None else "-"
    console.print(f"  rate {doc['rate_per_second']}/s  ETA {eta}  "
                  f"waiting for quiet hours {doc['waiting_quiet_hours']}")
