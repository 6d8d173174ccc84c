"""`GET /metrics` (Prometheus text; a `read` key, as Prometheus's `authorization`
setting sends it): the API's own request counters and latencies, and the business figures
`relay status` knows, read at scrape time.

Labels are route templates (`/v1/orders/{order_id}`, never the id), methods, status codes,
queue names, kinds and states: no PII. With several API processes, prometheus-client's
multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, which `relay serve` sets up) sums the
request metrics of every process, whichever one answers the scrape.
"""

from __future__ import annotations

import os
import time

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from relay.api.auth import require_scope
from relay.logs import get_logger

log = get_logger(__name__)
router = APIRouter()

requests_total = Counter("relay_api_requests_total", "HTTP API requests",
                         ["method", "route", "status"])
request_seconds = Histogram(
    "relay_api_request_seconds", "HTTP API request latency", ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))


def instrument(app: FastAPI) -> None:
    app.add_middleware(_Observe)


class _Observe:
    """Pure ASGI middleware (Starlette's BaseHTTPMiddleware costs a task and a stream per
    request): counts and times each request by its route template."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            request_seconds.labels(method, route).observe(time.perf_counter() - started)
            requests_total.labels(method, route, str(status[0])).inc()


class StatusCollector:
    """Gauges from `relay.status.collect()` at scrape time."""

    def collect(self):
        from relay.bootstrap import load_features
        from relay.status import collect

        load_features()
        try:
            doc = collect()
        except Exception as exc:  # the database is down: say so, export nothing stale
            log.warning("api.metrics_status_failed", error=repr(exc))
            up = GaugeMetricFamily("relay_status_up", "relay status could be read")
            up.add_metric([], 0)
            yield up
            return
        yield from _families(doc)


def _families(doc: dict):
    up = GaugeMetricFamily("relay_status_up", "relay status could be read")
    up.add_metric([], 1)
    yield up
    queues = GaugeMetricFamily("relay_broker_queue_messages", "Messages waiting in a queue",
                               labels=["queue"])
    for name, depth in (doc.get("queues") or {}).items():
        if depth is not None:
            queues.add_metric([name], depth)
    yield queues
    outbox = GaugeMetricFamily("relay_outbox_backlog", "Committed, unfinished outbox rows",
                               labels=["kind", "state"])
    for kind, row in (doc.get("outbox") or {}).items():
        for state in ("due_unpublished", "in_flight", "parked"):
            if isinstance(row.get(state), int | float):
                outbox.add_metric([kind, state], row[state])
    yield outbox
    changes = GaugeMetricFamily("relay_email_changes", "Email changes by state",
                                labels=["state"])
    for state, n in ((doc.get("homeria") or {}).get("email_changes") or {}).items():
        changes.add_metric([state], n)
    yield changes
    notes = GaugeMetricFamily("relay_notifications", "Notifications by state",
                              labels=["state"])
    for state, n in ((doc.get("notifications") or {}).get("by_state") or {}).items():
        notes.add_metric([state], n)
    yield notes
    dead = GaugeMetricFamily("relay_dead_letters_open", "Open dead letters", labels=["kind"])
    for kind, n in ((doc.get("dead_letters") or {}).get("open_by_kind") or {}).items():
        dead.add_metric([kind], n)
    yield dead
    breaker = ((doc.get("homeria") or {}).get("breaker") or {}).get("state")
    if breaker:
        gauge = GaugeMetricFamily("relay_homeria_breaker_open",
                                  "1 while the Homeria circuit breaker is open")
        gauge.add_metric([], 1 if breaker == "open" else 0)
        yield gauge
    # Everything else relay status reports as a number, generically: section and key
    # (dotted path of state/kind/queue names) as labels.
    values = GaugeMetricFamily("relay_status_value", "Every number in relay status",
                               labels=["section", "key"])
    for section, body in doc.items():
        if isinstance(body, dict):
            for key, value in _numbers(body):
                values.add_metric([section, key], value)
    yield values


def _numbers(value, prefix: str = ""):
    if isinstance(value, bool):
        yield prefix, 1 if value else 0
    elif isinstance(value, int | float):
        yield prefix, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _numbers(inner, f"{prefix}.{key}" if prefix else str(key))


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Default())
    registry.register(StatusCollector())
    return registry


class _Default:
    """This process's own metrics (single-process mode)."""

    def collect(self):
        yield from REGISTRY.collect()


@router.get("/metrics", summary="Prometheus metrics (a read key)",
            response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics(_principal=Depends(require_scope("read"))):
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)
