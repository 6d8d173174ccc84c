"""Helpers for tests: polling with a deadline, real worker processes, the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wait_until(predicate: Callable[[], object], timeout: float = 20.0,
               interval: float = 0.05, message: str = "condition") -> object:
    """Poll until predicate() is truthy; fail the test with `message` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class WorkerProcess:
    """A real `celery -A relay worker` subprocess."""

    def __init__(self, name: str, queues: str, env: dict[str, str], pool: str,
                 concurrency: int, log_path: Path) -> None:
        self.name = f"{name}-{uuid.uuid4().hex[:6]}@test"
        self.log_path = log_path
        self._log = open(log_path, "wb")
        cmd = [sys.executable, "-m", "celery", "-A", "relay", "worker", "-Q", queues,
               "-P", pool, "-c", str(concurrency), "-n", self.name,
               "--without-mingle", "--without-gossip", "-l", "INFO"]
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 30.0) -> WorkerProcess:
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.log()}")
            return b" ready." in self.log_path.read_bytes()

        wait_until(ready, timeout=timeout, interval=0.1, message=f"worker {self.name} ready")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the whole process group (prefork children included)."""
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=15)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
            except ProcessLookupError:
                pass
        self._log.close()


def run_cli(args: list[str], env: dict[str, str], input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the `relay` CLI as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-c", "from relay.cli import main; main()", *args],
        env=env, cwd=ROOT, input=input, capture_output=True, text=True, timeout=timeout,
    )


class BeatProcess:
    """A real `celery -A relay beat` subprocess (leader lease: relay/beatlease.py)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "relay", "beat", "-l", "INFO"],
            env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=15)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]
