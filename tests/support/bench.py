"""What every benchmark script shares: its argument parser, a quiet process, a log folder,
a paced load, and how figures are printed."""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.processes import ROOT


def parser(name: str, doc: str | None) -> argparse.ArgumentParser:
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


def workdir(name: str) -> Path:
    """A fresh folder for one run's logs: .relay/bench-<name>-<random>/."""
    path = ROOT / ".relay" / f"bench-{name}-{uuid.uuid4().hex[:6]}"
    path.mkdir(parents=True)
    return path


def say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def paced(fn: Callable, items: list, rate: float, threads: int = 4) -> float:
    """Call fn(item) for each item at `rate` per second from a few threads; returns the rate
    achieved (one publish per call, so one thread alone tops out below 100/s here)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        futures = []
        for i, item in enumerate(items):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(fn, item))
        for future in futures:
            future.result()
    return len(items) / (time.perf_counter() - start)


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


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
