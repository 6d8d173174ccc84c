"""What every benchmark script shares: its argument parser, a quiet process, a log folder,
and how figures are printed."""

from __future__ import annotations

import argparse
import os
import uuid
from pathlib import Path

from tests.support.processes import ROOT


def argparser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """`scripts/bench <name>`'s parser: the module docstring as its help, kept as written."""
    return argparse.ArgumentParser(prog=f"scripts/bench {name}", description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def quiet(level: str = "WARNING", **env: str) -> None:
    """This process and the processes it starts log at `level`; `env` joins os.environ;
    settings are re-read."""
    from relay.logs import configure_logging
    from relay.settings import reset_settings_cache

    os.environ.update(LOG_LEVEL=level, **env)
    reset_settings_cache()
    configure_logging(level)


def fresh_run(name: str, level: str = "WARNING", **env: str) -> tuple[str, str, Path]:
    """A benchmark's start: a throwaway database on DATABASE_URL's server, made this
    process's DATABASE_URL; logs at `level`; `env` set; a log folder. Returns (server URL,
    database URL, folder); drop the database with databases.drop_database(server, url)."""
    from tests.support.databases import create_database, require_env

    server = require_env("DATABASE_URL", "REDIS_URL")
    url = create_database(server, "relay_bench")
    os.environ["DATABASE_URL"] = url
    quiet(level, **env)
    return server, url, workdir(name)


def workdir(name: str) -> Path:
    """A fresh folder for one run's logs: .relay/bench-<name>-<random>/."""
    path = ROOT / ".relay" / f"bench-{name}-{uuid.uuid4().hex[:6]}"
    path.mkdir(parents=True)
    return path


def print_table(rows: list[dict]) -> None:
    """Rows of dicts as aligned columns (the union of their keys, in first-seen order)."""
    cols: list[str] = []
    for row in rows:
        cols += [c for c in row if c not in cols]
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    print("  ".join("-" * widths[c] for c in cols))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols))


def print_figures(title: str, figures: list[tuple[str, str]]) -> None:
    """(measure, result) pairs under a title, the results aligned."""
    width = max(len(k) for k, _ in figures)
    print(f"\n{title:<{width}}  result")
    print("-" * (width + 20))
    for key, value in figures:
        print(f"{key:<{width}}  {value}")
