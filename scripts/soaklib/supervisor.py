"""The soak's process supervisor: restarts what exits, records the exits it did not cause.

Its servers (PostgreSQL and Redis it restarts mid-run) and the process-group plumbing come
from the shared harness, tests/support/ (servers.py, processes.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from tests.support.processes import signal_group, spawn


class Managed:
    """One supervised child process (its own session, so its whole group can be signalled)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path,
                 cwd: Path) -> None:
        self.name, self.argv, self.env, self.cwd = name, argv, env, cwd
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.expect_exit = False     # the soak killed it: not an unexpected exit
        self.restarts = 0
        self.started_at = 0.0
        self.log_offset = 0
        self.next_start = 0.0
        self.backoff = 1.0

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.proc = spawn(self.argv, self.log_path, self.env, cwd=self.cwd, append=True)

    def signal(self, sig: int) -> None:
        if self.proc:
            signal_group(self.proc, sig)

    def last_error(self) -> str:
        """The most telling line of its log tail (Celery's 'Unrecoverable error: …')."""
        try:
            with open(self.log_path, "rb") as log:   # this life's lines only, at most 1 MB
                log.seek(max(self.log_offset, log.seek(0, os.SEEK_END) - 1_000_000))
                tail = log.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "no log"
        for marker in ("Unrecoverable error", "Error", "error"):
            for line in reversed(tail):
                if marker in line:
                    return _message(line)
        return _message(tail[-1]) if tail else "empty log"


def _message(line: str) -> str:
    """A JSON log line's `event`, else the line itself; clipped for the summary."""
    try:
        doc = json.loads(line)
        line = str(doc.get("event", line)) if isinstance(doc, dict) else line
    except ValueError:
        pass
    return line.strip()[:160]


class Supervisor:
    """Restarts a process that exits, with backoff (1 s doubling to 30 s, back to 1 s after
    a minute alive), as scripts/lib/supervise does for scripts/run, and
    records every exit the soak did not cause: those are failures of their own."""

    def __init__(self) -> None:
        self.procs: dict[str, Managed] = {}
        self.unexpected: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="supervisor")

    def add(self, proc: Managed) -> Managed:
        self.procs[proc.name] = proc
        proc.start()
        return proc

    def run(self) -> None:
        self._thread.start()

    def kill(self, name: str, hold_s: float = 0.0) -> None:
        """SIGKILL (the whole group); restarted after `hold_s` by the loop."""
        with self._lock:
            proc = self.procs[name]
            proc.expect_exit = True
            proc.next_start = time.monotonic() + hold_s
            proc.signal(signal.SIGKILL)

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                for proc in self.procs.values():
                    self._tend(proc)

    def _tend(self, proc: Managed) -> None:
        now = time.monotonic()
        if proc.proc is not None:
            code = proc.proc.poll()
            if code is None:
                if now > proc.started_at + 60:
                    proc.backoff = 1.0   # it has lived a minute: the next exit starts afresh
                return
            if not proc.expect_exit:
                self.unexpected.setdefault(proc.name, []).append(
                    f"exit {code}: {proc.last_error()}")
                proc.next_start = now + proc.backoff
                proc.backoff = min(proc.backoff * 2, 30.0)
            proc.proc = None
            proc.expect_exit = False
        if now >= proc.next_start:
            proc.restarts += 1
            proc.start()

    def stop_all(self, timeout: float = 20.0) -> None:
        """SIGTERM every group, then SIGKILL what is left after `timeout`."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        procs = list(self.procs.values())
        for proc in procs:
            proc.signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            if proc.proc is None:
                continue
            try:
                proc.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.signal(signal.SIGKILL)
                proc.proc.wait(timeout=5)
