"""Heavy aggregates computed off the request path (stale-while-revalidate).

The on-time figures of the current day, `relay status`'s 24-hour SLA section and the
trend series count live rows (hundreds of thousands at real volume: ~0.3-1.5 s). Nobody
needs them to the second, and the overview asks every 5 s per open browser. So each is
kept per process with the time it was computed: a request gets the last value at once,
and when that value is older than its `max_age_s` one background thread recomputes it.
Only the very first request for a key waits for the computation. Cheap, fast-changing
figures (dead letters, queue depths, unsent counts) are never cached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from relay.logs import get_logger

log = get_logger(__name__)


class Refreshing:
    def __init__(self, compute: Callable[..., Any], max_age_s: float) -> None:
        self.compute = compute
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._busy: set[Hashable] = set()
        self._first: dict[Hashable, threading.Lock] = {}

    def get(self, *args: Hashable) -> tuple[Any, float]:
        """(value, its age in seconds) for `compute(*args)`."""
        with self._lock:
            held = self._values.get(args)
            if held is not None and time.time() - held[0] > self.max_age_s \
                    and args not in self._busy:
                self._busy.add(args)
                threading.Thread(target=self._refresh, args=(args,), daemon=True,
                                 name="console-refresh").start()
            first = self._first.setdefault(args, threading.Lock())
        if held is None:
            with first:  # one computation however many first requests arrive together
                with self._lock:
                    held = self._values.get(args)
                if held is None:
                    held = (time.time(), self.compute(*args))
                    with self._lock:
                        self._values[args] = held
        return held[1], round(time.time() - held[0], 1)

    def _refresh(self, args: tuple) -> None:
        try:
            value = self.compute(*args)
            with self._lock:
                self._values[args] = (time.time(), value)
        except Exception as exc:  # keep serving the last value; the next request retries
            log.warning("console.refresh_failed", error=repr(exc))
        finally:
            with self._lock:
                self._busy.discard(args)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
