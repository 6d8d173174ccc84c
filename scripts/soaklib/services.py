"""The soak's own PostgreSQL and Redis (so it may restart them) and its process supervisor.

scripts/lib/common.sh starts private servers for scripts/run and scripts/test but owns
them from bash; the soak needs to stop and start them mid-run on the same port, so this
is the Python twin of `start_private_postgres` / `start_private_redis` (same flags).
Data lives under a fresh `mktemp -d` in the system temp directory (PostgreSQL runs as
`postgres` when we are root, and must be able to enter it).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float, what: str,
             interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class Postgres:
    """A throwaway cluster; `stop()` / `start()` keep its data and port (a restart)."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                       key=lambda p: int(p.split("/")[-2]))
        if not found:
            raise RuntimeError("PostgreSQL binaries not found under /usr/lib/postgresql")
        self.bin = Path(found[-1])
        self.port = free_port()
        # its own temp directory, not one inside ours: `postgres` must be able to enter it
        self.dir = Path(tempfile.mkdtemp(prefix="relay-soak-pg-"))
        self.as_owner: list[str] = []
        if os.geteuid() == 0:   # PostgreSQL refuses to run as root (FACTS.md)
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._run("initdb", "-D", f"{self.dir}/data", "-A", "trust", "-U", "postgres")

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        done = subprocess.run([*self.as_owner, str(self.bin / tool), *args],
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> None:
        self._run("pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/log", "-w", "-t", "30",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                        "-c fsync=off -c max_connections=300", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", f"{self.dir}/data", "-m", mode, "-w", "-t", "30", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass   # already down
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    """redis-server as our child, without persistence: a restart loses every message."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="relay-soak-redis-", dir=root))
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.dir / "redis.log", "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        import redis

        def up() -> bool:
            try:
                return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
            except redis.RedisError:
                return False
        wait_for(up, 15, "redis-server to answer")

    def stop(self) -> None:
        """SIGTERM with `--save ''`: the server goes down and its data with it."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


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
        with open(self.log_path, "ab") as log:
            self.log_offset = log.tell()
            self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def signal(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

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
