"""The flags the `relay dlq` commands share, and turning them into Filters and an actor."""

from __future__ import annotations

import getpass
import os

import typer

from relay.deadletters import Filters, outcomes, parse_duration
from relay.errors import InvalidInput

TASK = typer.Option(None, "--task", help="Task kind, e.g. email_change, notification.")
REASON = typer.Option(None, "--reason", help="Reason code, e.g. customer_not_found.")
BRAND = typer.Option(None, "--brand", help="Brand code.")
COUNTRY = typer.Option(None, "--country", help="Country code (ISO 3166-1 alpha-2).")
OLDER = typer.Option(None, "--older-than", help="Dead-lettered at least this long ago: 1h, 7d.")
NEWER = typer.Option(None, "--newer-than", help="Dead-lettered within this long: 30m, 24h.")
JSON = typer.Option(False, "--json", help="One JSON document on stdout, nothing else.")
IDS = typer.Argument(None, help="Dead letter id(s).", show_default=False)
ALL = typer.Option(False, "--all", help="Every OPEN dead letter matching the filters.")
DRY = typer.Option(False, "--dry-run", help="Show what would happen; change nothing.")
YES = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation (bulk).")
BY = typer.Option(None, "--by", help="Who is doing this (audit). Default: $USER.")
WHY = typer.Option(None, "--why", help="Why (audit note), e.g. a ticket or incident.")
WAIT = typer.Option(outcomes.DEFAULT_WAIT_SECONDS, "--wait", min=0, metavar="SECONDS",
                    help="After replaying, wait up to this long for the outcomes "
                         "(delivered, dead-lettered again, still pending).")
NO_WAIT = typer.Option(False, "--no-wait", help="Only queue the replays; do not wait.")


def filters(task, reason, brand, country, older_than, newer_than, state="open",
            limit=None) -> Filters:
    older = parse_duration(older_than, "--older-than") if older_than else None
    newer = parse_duration(newer_than, "--newer-than") if newer_than else None
    try:
        return Filters(kind=task, reason=reason, brand=brand, country=country,
                       older_than=older, newer_than=newer, state=state, limit=limit)
    except InvalidInput as exc:  # name the option the user typed
        raise InvalidInput(f"--{exc.field}", exc.message) from None


def who(by: str | None) -> str:
    name = (by or os.environ.get("USER") or "").strip()
    if not name:
        try:
            name = getpass.getuser()
        except Exception:
            name = ""
    if not name:
        raise InvalidInput("--by", "cannot tell who you are ($USER is unset); pass --by NAME")
    return name
