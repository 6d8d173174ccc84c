"""`relay`: the on-call command line.

Exit codes (contract): 0 success, 1 operational failure, 2 bad input. `--json` output is
one JSON document on stdout and nothing else; messages and progress go to stderr.
"""

from __future__ import annotations

import importlib
import sys

import typer

from relay.errors import ConfigurationError, InvalidInput, NotFound, RelayError

app = typer.Typer(
    name="relay",
    help="relay: durable email sync to Homeria and order notifications. On-call tooling.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# Each module adds its commands to `app` when imported.
COMMAND_MODULES = ("db", "status", "canary", "dlq", "enqueue", "orders", "sync", "sla")
COMMAND_MODULES += ("serve", "apikeys")
COMMAND_MODULES += ("privacy",)
COMMAND_MODULES += ("campaign",)

for _name in COMMAND_MODULES:
    importlib.import_module(f"relay.cli.{_name}")


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"relay: {message}\n")
    raise SystemExit(code)


def _first_line(exc: BaseException) -> str:
    """libpq's messages span lines ("...Connection refused\n\tIs the server running...")."""
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0] if text else ''}".rstrip(": ")


def main() -> None:
    try:
        app()
    except InvalidInput as exc:
        _fail(f"invalid input: {exc}", 2)
    except ConfigurationError as exc:
        _fail(f"configuration error: {exc}", 2)
    except NotFound as exc:
        _fail(str(exc), 1)
    except RelayError as exc:
        _fail(str(exc), 1)
    except KeyboardInterrupt:
        _fail("interrupted", 1)
    except Exception as exc:  # database or broker unreachable, etc.
        import kombu.exceptions
        import psycopg
        import redis

        if isinstance(exc, psycopg.OperationalError):  # down, unreachable, pool timed out
            _fail("operational failure: PostgreSQL unreachable (DATABASE_URL): "
                  f"{_first_line(exc)}; nothing was written", 1)
        if isinstance(exc, psycopg.Error | redis.RedisError | kombu.exceptions.KombuError
                      | OSError):
            _fail(f"operational failure: {exc.__class__.__name__}: {exc}", 1)
        raise
