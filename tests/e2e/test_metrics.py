"""A worker serves Prometheus metrics for the work it did, with no PII in labels."""

from __future__ import annotations

import pytest
import requests

from relay import canary
from tests.support import free_port, wait_until

pytestmark = pytest.mark.e2e


def test_worker_exports_task_and_outbox_metrics(relay_env, start_worker):
    port = free_port()
    start_worker("maintenance", env={"METRICS_PORT": str(port)})
    canary.send("maintenance", note="ana@example.com")
    line = 'relay_tasks_total{outcome="done",task="relay.canary.run"} 1.0'

    def scraped():
        try:
            body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        except requests.ConnectionError:
            return None
        return body if line in body else None

    body = wait_until(scraped, timeout=20, message="the canary counted in /metrics")
    assert "@example.com" not in body
