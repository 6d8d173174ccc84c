"""Poll with a deadline: the one way tests and benchmarks wait (never a bare sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], object], timeout: float = 20.0,
               interval: float = 0.05, message: str = "condition") -> object:
    """Poll until predicate() is truthy and return its value; on timeout raise
    AssertionError naming `message` (a test fails, a benchmark stops with the reason)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {message}")
        time.sleep(interval)
