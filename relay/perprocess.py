"""One object per process: built on first use, built again in a forked child.

Why: a Celery prefork child (and the API's bulk intake, which forks from a request thread)
inherits its parent's module globals. Sharing the parent's sockets — an HTTP keep-alive
pool, a Redis or PostgreSQL connection, an AMQP channel — between two processes
interleaves their bytes on one connection. So each shared client is held with the pid
that built it and is rebuilt when another pid asks. The lock is replaced in a forked child
too: a fork copies it in whatever state another thread left it.

    _session = PerProcess(lambda: session(timeout=TIMEOUT))
    _session.get()      # this process's session
    _session.reset()    # closed and forgotten (tests; a broken connection)
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

_holders: weakref.WeakSet[PerProcess] = weakref.WeakSet()


class PerProcess(Generic[T]):
    """Holds the object `build()` returns for the process that built it.

    `close(obj)`, if given, releases it on `reset()`; an object a parent built is dropped
    without closing (its sockets are the parent's to close).
    """

    def __init__(self, build: Callable[[], T], close: Callable[[T], object] | None = None):
        self._build = build
        self._close = close
        self._held: tuple[int, T] | None = None   # (pid, object): read in one step
        self._lock = threading.Lock()
        _holders.add(self)

    def get(self) -> T:
        held = self._held
        if held is not None and held[0] == os.getpid():
            return held[1]
        with self._lock:
            held = self._held
            if held is None or held[0] != os.getpid():
                held = (os.getpid(), self._build())
                self._held = held
            return held[1]

    def peek(self) -> T | None:
        """This process's object if it has been built, without building it."""
        held = self._held
        return held[1] if held is not None and held[0] == os.getpid() else None

    def reset(self) -> None:
        """Forget the object (closing it if this process built it); the next `get()`
        builds a new one."""
        with self._lock:
            held, self._held = self._held, None
        if held is not None and held[0] == os.getpid() and self._close is not None:
            self._close(held[1])


def _after_fork_in_child() -> None:
    for holder in list(_holders):
        holder._lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
