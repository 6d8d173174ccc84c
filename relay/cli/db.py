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
    """Create or upgrade the schema, then re-apply the functions of relay/sql (idempotent;
    safe to run concurrently).

    Example: relay db migrate
    """
    done = migrate(settings().database_url)
    if done.applied:
        err_console.print(f"applied {len(done.applied)} migration(s): "
                          + ", ".join(done.applied))
    if done.functions:
        err_console.print(f"defined {len(done.functions)} function(s) from relay/sql: "
                          + ", ".join(done.functions))
    if not done:
        err_console.print("schema is up to date")
