"""`relay serve` as a real process against this test's PostgreSQL and Redis."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from standins.homeria import serve as serve_homeria
from tests.integration.sync.helpers import SECRET, TOKEN, customer, homeria_env
from tests.support import ROOT, run_cli, wait_until


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@dataclass
class Api:
    url: str
    proc: subprocess.Popen
    log_path: Path
    env: dict[str, str]

    def key(self, name: str, scope: str, *, cli: bool = False) -> str:
        """A new key: through `relay api-keys create --json` (cli=True) or the same store
        function in this process (a second faster: no interpreter to start)."""
        if not cli:
            from relay import apikeys

            return apikeys.create(name, scope)
        result = run_cli(["api-keys", "create", name, "--scope", scope, "--json"], self.env)
        assert result.returncode == 0, result.stderr
        import json

        doc = json.loads(result.stdout)
        assert (doc["name"], doc["scope"]) == (name, scope)
        return doc["key"]

    def call(self, method: str, path: str, key: str | None = None, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture
def homeria():
    with serve_homeria(token=TOKEN, secret=SECRET,
                       seed=[customer(n) for n in range(1, 21)]) as running:
        yield running


@pytest.fixture
def start_api(relay_env, tmp_path) -> Iterator[Callable[..., Api]]:
    """start_api(workers=1, **env) -> a running `relay serve` process."""
    started: list[Api] = []

    def start(workers: int = 1, **env: str) -> Api:
        full = dict(relay_env, LOG_LEVEL="INFO", **env)
        port = free_port()
        log_path = tmp_path / f"api{len(started)}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from relay.cli import main; main()", "serve",
                 "--port", str(port), "--workers", str(workers)],
                env=full, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        api = Api(f"http://127.0.0.1:{port}", proc, log_path, full)
        started.append(api)

        def up():
            if proc.poll() is not None:
                raise AssertionError(f"relay serve exited:\n{api.log()}")
            try:
                return requests.get(api.url + "/healthz", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(up, timeout=30, interval=0.1, message="relay serve to answer /healthz")
        return api

    yield start
    for api in started:
        if api.proc.poll() is None:
            api.proc.terminate()
            try:
                api.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                api.proc.kill()
                api.proc.wait()


@pytest.fixture
def api_with_sync(start_api, start_worker, homeria) -> Api:
    """The API plus a real sync worker pointed at the Homeria stand-in."""
    start_worker("homeria", pool="threads", concurrency=4, env=homeria_env(homeria.url))
    return start_api(**homeria_env(homeria.url))
