"""Dead canaries (a real, replayable kind) and the on-call webhook stand-in."""

from __future__ import annotations

import pytest

from relay.settings import reset_settings_cache
from standins.webhook import serve
from tests.support.dlq import insert_dead_canaries


@pytest.fixture
def dead_canaries(db):
    """dead_canaries(n=1, reason=..., error=..., brand=..., ...) -> [(canary_id, dl_id)]."""
    def make(n: int = 1, **dead):
        return insert_dead_canaries(n, **dead)
    return make


@pytest.fixture
def dead_canary(dead_canaries):
    def make(**dead):
        return dead_canaries(1, **dead)[0]
    return make


@pytest.fixture
def webhook(db, monkeypatch):
    """The Slack-compatible stand-in as ONCALL_WEBHOOK_URL, with a 2 s alert window."""
    with serve() as hook:
        monkeypatch.setenv("ONCALL_WEBHOOK_URL", f"{hook.url}/services/T000/B000/secret")
        monkeypatch.setenv("ONCALL_ALERT_WINDOW_SECONDS", "2")
        reset_settings_cache()
        yield hook
    reset_settings_cache()

