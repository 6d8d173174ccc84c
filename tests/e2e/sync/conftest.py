"""Real `celery worker -Q homeria` processes against the Homeria stand-in in-process."""

from __future__ import annotations

import pytest

from standins.homeria import serve
from tests.integration.sync.helpers import SECRET, TOKEN, customer, homeria_env


@pytest.fixture
def homeria():
    with serve(token=TOKEN, secret=SECRET, seed=[customer(n) for n in range(1, 21)]) as running:
        yield running


@pytest.fixture
def sync_worker(start_worker, homeria):
    """sync_worker(**env) -> a threads worker (-c 4) on `homeria`, pointed at the stand-in."""
    def start(concurrency: int = 4, **env: str):
        return start_worker("homeria", pool="threads", concurrency=concurrency,
                            env=homeria_env(homeria.url, **env))
    return start
