"""`relay db ...`"""

from __future__ import annotations

import typer

from relay.cli import app
from relay.cli.common import err_console, settings
from relay.migrate import migrate

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("migrate")
def migrate_cmd() -> None:
    """Create or upgrade the schema (idempotent; safe to run concurrently).

    Example: relay db migrate
    """
    applied = migrate(settings().database_url)
    if applied:
        err_console.print(f"applied {len(applied)} migration(s): " + ", ".join(applied))
    else:
        err_console.print("schema is up to date")
