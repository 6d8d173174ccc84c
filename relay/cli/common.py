"""Helpers shared by the CLI commands: output and settings loading."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from rich.console import Console

from relay.settings import Settings, get_settings

# People read stderr-free tables on stdout; scripts read `--json` on stdout.
console = Console()
err_console = Console(stderr=True)


def settings() -> Settings:
    """Load settings (raises ConfigurationError, which main() turns into exit 2)."""
    from relay.bootstrap import check_config
    from relay.logs import configure_logging

    s = get_settings()
    check_config()
    configure_logging("WARNING")  # the CLI's own output is the interface, not logs
    # psycopg_pool warns once per failed connection attempt while PostgreSQL is down; the
    # CLI reports that itself, in one line (relay/cli/__init__.py)
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    return s


def emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, default=str, indent=2) + "\n")
