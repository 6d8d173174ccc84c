"""`relay dlq purge`: delete resolved dead letters past retention, by hand (the beat does
it on its own)."""

from __future__ import annotations

import sys

import typer

from relay import deadletters
from relay.cli.common import console, emit_json, settings
from relay.cli.dlq import options
from relay.cli.dlq.options import DRY, JSON, YES
from relay.cli.dlq.tables import age as show_age
from relay.deadletters import parse_duration
from relay.errors import InvalidInput


def purge_cmd(older_than: str = typer.Option(
                  None, "--older-than",
                  help="Resolved this long ago. Default: DEAD_LETTER_RETENTION_DAYS (30d)."),
              dry_run: bool = DRY, yes: bool = YES, as_json: bool = JSON) -> None:
    """Delete replayed/discarded dead letters past retention (open ones never); audited.

    The beat does this on its own; run it by hand to catch up. Example:
    relay dlq purge --older-than 90d --dry-run
    """
    settings()
    age = parse_duration(older_than, "--older-than") if older_than else deadletters.retention()
    count = deadletters.purge(age, dry_run=True)
    if not dry_run and count and not yes:
        if not sys.stdin.isatty():
            raise InvalidInput("--yes", f"refusing to purge {count} resolved dead letter(s) "
                                        "without confirmation: pass --yes")
        if not typer.confirm(f"Purge {count} resolved dead letter(s)?", err=True):
            raise SystemExit(1)
    purged = count if dry_run else deadletters.purge(age, by=f"{options.who(None)} (cli)")
    if as_json:
        emit_json({"dry_run": dry_run, "older_than_s": age.total_seconds(),
                   "would_purge" if dry_run else "purged": purged})
    else:
        console.print(f"{'would purge' if dry_run else 'purged'} {purged} resolved dead "
                      f"letter(s) older than {show_age(age.total_seconds())}")
