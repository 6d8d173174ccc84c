"""Errors as `application/problem+json` (RFC 9457): `status`, `title`, `detail`, and for
a 422 `errors: [{"field", "message"}]` naming every bad field at once.

Every error leaves through here, so a client parses one shape whatever went wrong.
"""

from __future__ import annotations

from http import HTTPStatus

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from relay.errors import InvalidInput, NotFound
from relay.logs import get_logger, scrub

log = get_logger(__name__)

MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_DB_DOWN = 5   # seconds a client should wait when PostgreSQL is unreachable


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, title: str | None = None,
                 errors: list[tuple[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.title = status, detail, title
        self.errors, self.headers = errors, headers


def problem(status: int, detail: str, *, title: str | None = None,
            errors: list[tuple[str, str]] | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    doc: dict = {"type": "about:blank", "status": status,
                 "title": title or HTTPStatus(status).phrase, "detail": detail}
    if errors is not None:
        doc["errors"] = [{"field": f, "message": m} for f, m in errors]
    return JSONResponse(doc, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def invalid(exc: InvalidInput) -> JSONResponse:
    n = len(exc.errors)
    return problem(422, f"{n} invalid field{'s' if n != 1 else ''}; nothing was written",
                   title="Invalid input", errors=exc.errors)


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] or parts
    return ".".join(parts) or "input"


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_req: Request, exc: Problem):
        return problem(exc.status, exc.detail, title=exc.title, errors=exc.errors,
                       headers=exc.headers)

    @app.exception_handler(InvalidInput)
    async def _invalid(_req: Request, exc: InvalidInput):
        return invalid(exc)

    @app.exception_handler(NotFound)
    async def _not_found(_req: Request, exc: NotFound):
        return problem(404, scrub(str(exc)))

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError):
        errors = [(_field(tuple(e.get("loc", ()))),
                   str(e.get("msg", "invalid")).removeprefix("Value error, "))
                  for e in exc.errors()]
        return invalid(InvalidInput(errors[0][0], errors[0][1], errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))

    async def _db_down(req: Request, exc: Exception):
        # Every write is one transaction, so an interrupted one left nothing behind.
        log.warning("api.database_unavailable", path=req.url.path, error=repr(exc))
        return problem(503, "the database is unreachable; nothing was written. Retry "
                            "after the delay (with the same Idempotency-Key).",
                       headers={"Retry-After": str(RETRY_AFTER_DB_DOWN)})

    app.add_exception_handler(psycopg.OperationalError, _db_down)
    app.add_exception_handler(psycopg_pool.PoolTimeout, _db_down)

    @app.exception_handler(Exception)
    async def _unexpected(req: Request, exc: Exception):
        log.exception("api.unexpected_error", path=req.url.path)
        return problem(500, "internal error; it has been logged")
