"""Real processes a test or a benchmark starts and must stop: workers, beat, the API, the
stand-ins, the CLI. Each runs in its own session, so a signal reaches its whole process
group (prefork children, `nice` wrappers, uvicorn workers) and nothing outlives its owner.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

from tests.support.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from relay.cli import main; main()"]
STANDINS = [sys.executable, "-m", "standins"]


def free_port() -> int:
    """A loopback port nothing listens on now (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None, *,
          cwd: Path = ROOT, append: bool = False) -> subprocess.Popen:
    """Start argv in a new session, stdout and stderr into log_path."""
    with open(log_path, "ab" if append else "wb") as log:
        return subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Send sig to proc's whole process group, if it still runs."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """sig to the group (a warm shutdown for SIGTERM), then SIGKILL whatever is left after
    `timeout` seconds."""
    signal_group(proc, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        signal_group(proc, signal.SIGKILL)
        proc.wait(timeout=10)


class Process:
    """One started command, its log, and how to stop it."""

    def __init__(self, argv: list[str], env: dict[str, str] | None, log_path: Path, *,
                 cwd: Path = ROOT) -> None:
        self.argv = argv
        self.log_path = log_path
        self.proc = spawn(argv, log_path, env, cwd=cwd)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM the group (a warm shutdown), SIGKILL after `timeout`."""
        stop_group(self.proc, signal.SIGTERM, timeout)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole group and wait for the process to go."""
        signal_group(self.proc, sig)
        self.proc.wait(timeout=15)


def stop_all(processes: list[Process], timeout: float = 20) -> None:
    """SIGTERM every group at once (they shut down side by side), then wait for each;
    SIGKILL what is left after `timeout`."""
    for process in processes:
        signal_group(process.proc, signal.SIGTERM)
    for process in processes:
        process.stop(timeout)


def worker_argv(queues: str, *, pool: str = "threads", concurrency: int = 4,
                name: str | None = None, app: str = "relay", loglevel: str = "INFO",
                nice: int = 0, extra: tuple[str, ...] = ()) -> list[str]:
    """`celery -A app worker` as scripts/run starts it (no mingle, no gossip)."""
    name = name or f"w-{uuid.uuid4().hex[:6]}@test"
    argv = [sys.executable, "-m", "celery", "-A", app, "worker", "-Q", queues, "-P", pool,
            "-c", str(concurrency), "-n", name, "--without-mingle", "--without-gossip",
            "-l", loglevel, *extra]
    return ["nice", "-n", str(nice), *argv] if nice else argv


class WorkerProcess(Process):
    """A real `celery -A relay worker` subprocess."""

    def __init__(self, name: str, queues: str, env: dict[str, str], pool: str,
                 concurrency: int, log_path: Path) -> None:
        self.name = f"{name}-{uuid.uuid4().hex[:6]}@test"
        super().__init__(worker_argv(queues, pool=pool, concurrency=concurrency,
                                     name=self.name), env, log_path)

    def wait_ready(self, timeout: float = 30.0) -> WorkerProcess:
        """Until the worker logs ' ready.' (it consumes its queues); fails if it exits."""
        def ready():
            if not self.alive():
                raise AssertionError(f"worker exited early:\n{self.log()}")
            return b" ready." in self.log_path.read_bytes()

        wait_until(ready, timeout=timeout, interval=0.1, message=f"worker {self.name} ready")
        return self


def wait_workers_answer(nodes: list[str], procs: list[Process] = (), timeout: float = 60) -> None:
    """Until every named worker answers a ping (it consumes its queues) — for workers that
    log at WARNING, where ' ready.' is never written. Fails if one of `procs` exits."""
    from relay import app

    def answered() -> bool:
        exited = [p.argv for p in procs if not p.alive()]
        if exited:
            raise AssertionError(f"a worker exited while starting: {exited[0]}")
        replies = app.control.ping(destination=nodes, timeout=1.0)
        return {node for reply in replies for node in reply} >= set(nodes)

    wait_until(answered, timeout=timeout, interval=0.1, message=f"workers {nodes} to answer")


def beat_argv(*extra: str, loglevel: str = "INFO") -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "relay", "beat", "-l", loglevel, *extra]


class BeatProcess(Process):
    """A real `celery -A relay beat` subprocess (leader lease: relay/beatlease.py)."""

    def __init__(self, env: dict[str, str], log_path: Path, *extra: str) -> None:
        super().__init__(beat_argv(*extra), env, log_path)

    def log(self, tail: int = 3000) -> str:
        return super().log(tail)


def run_cli(args: list[str], env: dict[str, str], input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the `relay` CLI as a user would, in a subprocess."""
    return subprocess.run([*CLI, *args], env=env, cwd=ROOT, input=input, capture_output=True,
                          text=True, timeout=timeout)


def start_api(port: int, env: dict[str, str], log_path: Path, *, workers: int | None = None,
              timeout: float = 30, ready_path: str = "/healthz") -> tuple[Process, str]:
    """`relay serve` on `port`; returns it with its base URL once `ready_path` answers 200."""
    argv = [*CLI, "serve", "--port", str(port)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    api = Process(argv, env, log_path)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + ready_path, api, timeout=timeout, what="relay serve")
    return api, url


def wait_http(url: str, proc: Process | None = None, timeout: float = 30,
              what: str = "the server") -> None:
    """Until GET url answers 200; fails at once, with its log, if `proc` exits."""
    import requests

    def up() -> bool:
        if proc is not None and not proc.alive():
            raise AssertionError(f"{what} exited:\n{proc.log()}")
        try:
            return requests.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    wait_until(up, timeout=timeout, interval=0.1, message=f"{what} to answer {url}")


def start_standin(name: str, *args: str, log_path: Path,
                  env: dict[str, str] | None = None, timeout: float = 30) -> tuple[Process, dict]:
    """`python -m standins <name> --port 0 …` in its own process; returns it with the
    JSON line it prints once listening (its URLs and ports)."""
    proc = Process([*STANDINS, name, "--port", "0", *args], env, log_path)

    def announced() -> dict | None:
        if not proc.alive():
            raise AssertionError(f"the {name} stand-in exited:\n{proc.log()}")
        for line in proc.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                return json.loads(line)
        return None

    return proc, wait_until(announced, timeout=timeout, interval=0.05,
                            message=f"the {name} stand-in to listen")
