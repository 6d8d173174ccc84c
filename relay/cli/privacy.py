"""`relay privacy erase|export|retention`: data-protection requests for one customer."""

from __future__ import annotations

import getpass
import sys

import typer

from relay.cli import app
from relay.cli.common import console, emit_json, err_console, settings
from relay.errors import InvalidInput, RelayError

privacy_app = typer.Typer(help="Personal data: erase, export, retention.",
                          no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")

_CUSTOMER = typer.Option(..., "--customer-id", help="The customer's id.")
_BRAND = typer.Option(..., "--brand", help="One of BRANDS.")
_COUNTRY = typer.Option(..., "--country", help="ISO 3166-1 alpha-2, e.g. ES.")


@privacy_app.command("erase")
def erase_cmd(customer_id: str = _CUSTOMER, brand: str = _BRAND, country: str = _COUNTRY,
              yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
              by: str = typer.Option(None, "--by", help="Who asks (default: your login)."),
              why: str = typer.Option(None, "--why", help="The request's reference; no PII."),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Remove the customer's personal data from every table (audited, without the data).

    Work in flight keeps its data until it finishes: the command then exits 1 and says
    so; run it again once that work has finished.

    Example: relay privacy erase --customer-id C-1001 --brand acme --country ES
    --why 'DSR-2211' --yes
    """
    settings()
    from relay.privacy.erasure import erase
    from relay.privacy.subject import Subject

    subject = Subject.parse(customer_id, brand, country)
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput("--yes", "erasure cannot be undone; confirm with --yes")
        typer.confirm(f"Erase all personal data of customer {subject.customer_id} "
                      f"({subject.brand}/{subject.country})? This cannot be undone",
                      abort=True, err=True)
    result = erase(subject, by=by or _login(), why=why)
    if as_json:
        emit_json(result.as_dict())
    else:
        erased = ", ".join(f"{k} {v}" for k, v in result.erased.items() if v) or "nothing"
        console.print(f"erasure {result.audit_id}: {erased}", highlight=False)
    if not result.complete:
        raise RelayError(f"{result.kept_open} row(s) of work in flight keep their data until "
                         "they finish; run the same command again in a few minutes")


def _login() -> str:
    try:
        return getpass.getuser()
    except OSError:   # no login name in this environment (a container without a passwd entry)
        return "cli"


@privacy_app.command("export")
def export_cmd(customer_id: str = _CUSTOMER, brand: str = _BRAND,
               country: str = _COUNTRY) -> None:
    """Print everything relay holds about the customer as one JSON document (unmasked:
    this answers the customer's access request; handle the output accordingly).

    Example: relay privacy export --customer-id C-1001 --brand acme --country ES > c1001.json
    """
    settings()
    from relay.privacy.access import export
    from relay.privacy.subject import Subject

    emit_json(export(Subject.parse(customer_id, brand, country)))


@privacy_app.command("retention")
def retention_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """Run the retention job now (the beat runs it hourly): blank personal data in rows
    finished more than PII_RETENTION_DAYS ago."""
    settings()
    from relay.privacy import retention

    doc = retention.run().as_dict()
    if as_json:
        emit_json(doc)
        return
    err_console.print(f"cutoff {doc['cutoff']}")
    console.print(", ".join(f"{k} {v}" for k, v in doc["redacted"].items()), highlight=False)
