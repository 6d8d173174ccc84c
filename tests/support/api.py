"""`relay serve` as a real process against the test's PostgreSQL and Redis, and the
bodies integrators send it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.support.homeria import homeria_env
from tests.support.processes import Process, free_port, run_cli
from tests.support.processes import start_api as start_serve


@dataclass
class Api:
    url: str
    process: Process
    env: dict[str, str]

    def key(self, name: str, scope: str, *, cli: bool = False) -> str:
        """A new key: through `relay api-keys create --json` (cli=True) or the same store
        function in this process (a second faster: no interpreter to start)."""
        if not cli:
            from relay import apikeys

            return apikeys.create(name, scope)
        result = run_cli(["api-keys", "create", name, "--scope", scope, "--json"], self.env)
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        assert (doc["name"], doc["scope"]) == (name, scope)
        return doc["key"]

    def call(self, method: str, path: str, key: str | None = None, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def log(self) -> str:
        return self.process.log()


@pytest.fixture
def start_api(relay_env, tmp_path) -> Iterator[Callable[..., Api]]:
    """start_api(workers=1, **env) -> a running `relay serve` process."""
    started: list[Api] = []

    def start(workers: int = 1, **env: str) -> Api:
        full = dict(relay_env, LOG_LEVEL="INFO", **env)
        process, url = start_serve(free_port(), full, tmp_path / f"api{len(started)}.log",
                                   workers=workers)
        started.append(Api(url, process, full))
        return started[-1]

    yield start
    for api in started:
        api.process.stop()


@pytest.fixture
def api_with_sync(start_api, start_worker, homeria) -> Api:
    """The API plus a real sync worker pointed at the Homeria stand-in."""
    start_worker("homeria", pool="threads", concurrency=4, env=homeria_env(homeria.url))
    return start_api(**homeria_env(homeria.url))


def body(n: int = 1, new: str | None = None, **over) -> dict:
    """An email change's JSON body for customer n."""
    doc = {"customer_id": f"C-{n}", "current_email": f"c{n}@example.com",
           "new_email": new or f"new{n}@example.com", "brand": "acme", "country": "ES"}
    doc.update(over)
    return doc
