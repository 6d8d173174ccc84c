"""In-process service calls against real PostgreSQL, Redis and the Homeria stand-in."""

from __future__ import annotations

import pytest

from relay.settings import reset_settings_cache
from standins.homeria import serve
from sync_worker.policy import reset_policy_cache
from sync_worker.runtime import reset_runtime, runtime
from tests.integration.sync.helpers import SECRET, TOKEN, customer, homeria_env


@pytest.fixture
def homeria():
    with serve(token=TOKEN, secret=SECRET, seed=[customer(n) for n in range(1, 11)]) as running:
        yield running


@pytest.fixture
def sync_rt(homeria, db, broker, monkeypatch):
    """The sync runtime of this process, pointed at the stand-in (fast retries)."""
    for name, value in homeria_env(homeria.url).items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    reset_policy_cache()
    reset_runtime()
    yield runtime()
    reset_runtime()
    monkeypatch.undo()
    reset_settings_cache()
    reset_policy_cache()
