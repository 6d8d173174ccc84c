"""The operations console, served by `relay serve` at `/` (issue 16).

Server-rendered pages (Jinja2) over the same functions as the CLI and the HTTP API, a
little JavaScript for the overview's refresh and the trend charts, and plotly.js for the
charts — served from the `plotly` Python package installed with relay, never fetched from
the internet (README "Console" says why plotly). `install(app)` is the one hook
`relay.api.app.create_app()` calls.
"""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from relay.console import deadletter_pages, pages, sessions, web

STATIC = Path(__file__).parent / "static"
VENDOR_CACHE = "public, max-age=86400"


def plotly_js() -> Path:
    """plotly.js as the installed `plotly` package ships it (package_data/plotly.min.js)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def warm_caches() -> None:
    """Compute the background-refreshed aggregates once at start-up, so that even the first
    visitor of a fresh process gets them at once (relay/console/cache.py)."""
    from datetime import UTC, datetime

    from relay.console import figures, trends
    from relay.logs import get_logger

    try:
        figures.status_cache.get()
        figures.ontime_cache.get()
        for name in trends.RANGES:
            pages.trends_cache.get(name)
        pages.review_cache.get(datetime.now(UTC).strftime("%Y-%m"))
    except Exception as exc:  # PostgreSQL not up yet: the first request computes instead
        get_logger(__name__).warning("console.warm_failed", error=repr(exc))


def install(app: FastAPI) -> None:
    app.router.on_startup.append(
        lambda: threading.Thread(target=warm_caches, name="console-warm", daemon=True).start())
    app.include_router(pages.router)
    app.include_router(deadletter_pages.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")

    @app.get("/console/vendor/plotly.min.js", include_in_schema=False)
    def plotly_asset():
        return FileResponse(plotly_js(), media_type="text/javascript",
                            headers={"Cache-Control": VENDOR_CACHE,
                                     "X-Content-Type-Options": "nosniff"})

    @app.exception_handler(web.NotSignedIn)
    async def not_signed_in(request: Request, _exc) -> Response:
        if request.url.path.endswith(".json"):
            return web.json_response({"error": "not signed in"}, 401)
        return web.redirect("/sign-in")

    @app.exception_handler(web.Forbidden)
    async def forbidden(request: Request, exc: web.Forbidden) -> Response:
        session = await run_in_threadpool(sessions.current,
                                          request.cookies.get(sessions.COOKIE))
        return web.page(request, "error.html", session, 403, message=str(exc))
