"""The ASGI application behind `relay serve`: `create_app()`.

FastAPI on uvicorn (README "HTTP API" has the measurement behind the choice). Endpoints
that touch PostgreSQL run in the thread pool and call relay's ordinary synchronous
functions; the event loop only parses, routes and encodes.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from relay import console
from relay.api import (
    body,
    health,
    problems,
    routes_campaigns,
    routes_customers,
    routes_ops,
    routes_produce,
    schemas,
)
from relay.api import metrics as api_metrics

DESCRIPTION = """relay's HTTP API: the producer API (email changes, order events) and
on-call work (dead letters, status) over HTTP.

Send `Authorization: Bearer <API key>` (`relay api-keys create NAME --scope
produce|read|operate`). Errors are `application/problem+json` (RFC 9457); a 422 lists
every bad field in `errors`. Nothing is written on any 4xx."""


def create_app() -> FastAPI:
    from relay.bootstrap import check_config
    from relay.settings import get_settings

    settings = get_settings()
    check_config()
    app = FastAPI(title="relay", version="1", description=DESCRIPTION,
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None,
                  lifespan=_lifespan)
    problems.install(app)
    app.add_exception_handler(body.BodyTooLarge, _too_large(settings.api_max_body_bytes))
    app.include_router(health.router)
    app.include_router(routes_produce.router)
    app.include_router(routes_ops.router)
    app.include_router(routes_campaigns.router)
    app.include_router(routes_customers.router)
    app.include_router(api_metrics.router)
    console.install(app)   # the operations console at / (relay/console)
    api_metrics.instrument(app)
    app.add_middleware(body.BodyLimit, max_bytes=settings.api_max_body_bytes)
    _document(app)
    return app


@asynccontextmanager
async def _lifespan(_app: FastAPI):
    await run_in_threadpool(_warm)
    yield


def _warm() -> None:
    """Pay at start what the first requests would otherwise pay: the producers' imports
    and the pool's DB_POOL_MIN connections (opened in the background; with PostgreSQL
    down the API starts anyway and /readyz says so)."""
    import notifications.intake  # noqa: F401
    import sync_worker.producer  # noqa: F401
    from relay.db import get_pool

    get_pool()


def _too_large(limit: int):
    async def handler(_request, _exc):
        return problems.problem(413, f"request body over the limit of {limit} bytes "
                                     "(API_MAX_BODY_BYTES); nothing was written")
    return handler


def _document(app: FastAPI) -> None:
    """Add the producers' own models (registered by the routes) to the schema."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            doc = schemas.merge_into(build())
            problem = schemas.errors(422)[422]
            for operations in doc["paths"].values():
                for op in operations.values():
                    responses = op.get("responses", {})
                    if "422" in responses:   # ours, not FastAPI's HTTPValidationError
                        responses["422"] = problem
            for unused in ("HTTPValidationError", "ValidationError"):
                doc["components"]["schemas"].pop(unused, None)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi
