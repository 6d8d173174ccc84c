"""`relay api-keys create|list|revoke`: keys for the HTTP API (relay/apikeys.py)."""

from __future__ import annotations

import typer
from rich.table import Table

from relay.cli import app
from relay.cli.common import console, emit_json, err_console, settings

keys_app = typer.Typer(help="API keys for the HTTP API (relay serve).", no_args_is_help=True)
app.add_typer(keys_app, name="api-keys")

JSON = typer.Option(False, "--json", help="One JSON document on stdout, nothing else.")


@keys_app.command("create")
def create_cmd(name: str = typer.Argument(..., help="A name for the key; audits show it."),
               scope: str = typer.Option(..., "--scope", help="produce, read or operate."),
               as_json: bool = JSON) -> None:
    """Create a key and print it once (only its hash is stored).

    Example: relay api-keys create oms --scope produce --json | jq -r .key
    """
    settings()
    from relay import apikeys

    key = apikeys.create(name, scope)
    if as_json:
        emit_json({"name": name, "scope": scope, "key": key})
        return
    console.print(key, highlight=False)
    err_console.print(f"API key {name!r} ({scope}) created. It is shown only now: store it "
                      "in your secret manager. Send it as: Authorization: Bearer <key>")


@keys_app.command("list")
def list_cmd(as_json: bool = JSON) -> None:
    """Every key with its scope, creation, last use and revocation (never the key)."""
    settings()
    from relay import apikeys

    keys = apikeys.list_keys()
    if as_json:
        emit_json({"api_keys": keys})
        return
    table = Table(show_edge=False)
    for col in ("name", "scope", "created", "last used", "revoked"):
        table.add_column(col)
    for k in keys:
        table.add_row(k["name"], k["scope"], k["created_at"] or "-",
                      k["last_used_at"] or "-", k["revoked_at"] or "-")
    console.print(table if keys else "no API keys")


@keys_app.command("revoke")
def revoke_cmd(name: str = typer.Argument(..., help="The key's name."),
               as_json: bool = JSON) -> None:
    """Revoke a key: its next request gets 401. Example: relay api-keys revoke oms"""
    settings()
    from relay import apikeys

    apikeys.revoke(name)
    if as_json:
        emit_json({"name": name, "revoked": True})
        return
    console.print(f"revoked API key {name!r}")
