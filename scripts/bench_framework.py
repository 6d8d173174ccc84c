"""`scripts/bench framework`: the framework's own cost per request, FastAPI vs plain
Starlette, for the shape of relay's hot endpoint (a bearer header, a JSON body of seven
fields, a JSON answer). Called in-process through ASGI (no sockets, no database), so the
figure is the framework's CPU per request and nothing else."""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPBearer
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

BODY = json.dumps({"customer_id": "C-1", "current_email": "a@example.com",
                   "new_email": "b@example.com", "brand": "acme", "country": "ES",
                   "requested_by": None, "request_id": "r-1"}).encode()
HEADERS = [(b"content-type", b"application/json"), (b"authorization", b"Bearer relay_x"),
           (b"content-length", str(len(BODY)).encode())]


def fastapi_app() -> FastAPI:
    app = FastAPI()
    bearer = HTTPBearer()

    @app.post("/v1/email-changes", status_code=202)
    async def post(request: Request, creds=Depends(bearer)):
        doc = json.loads(await request.body())
        return JSONResponse({"change_id": "x", "state": "pending", **doc}, status_code=202)
    return app


def starlette_app() -> Starlette:
    async def post(request: Request):
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return JSONResponse({"detail": "no key"}, status_code=401)
        doc = json.loads(await request.body())
        return JSONResponse({"change_id": "x", "state": "pending", **doc}, status_code=202)
    return Starlette(routes=[Route("/v1/email-changes", post, methods=["POST"])])


async def call(app) -> int:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/v1/email-changes",
             "raw_path": b"/v1/email-changes", "query_string": b"", "root_path": "",
             "headers": HEADERS, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    sent = {"done": False}
    status = {}

    async def receive():
        if sent["done"]:
            await asyncio.sleep(3600)
        sent["done"] = True
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            status["code"] = message["status"]

    await app(scope, receive, send)
    return status["code"]


async def measure(app, n: int) -> float:
    for _ in range(200):
        assert await call(app) == 202
    started = time.process_time()
    for _ in range(n):
        await call(app)
    return (time.process_time() - started) / n * 1e6


def main() -> None:
    n = 20_000
    for name, factory in (("FastAPI", fastapi_app), ("Starlette", starlette_app)) * 2:
        us = asyncio.run(measure(factory(), n))
        print(f"{name:<10} {us:7.1f} µs CPU per request ({n} requests)")


if __name__ == "__main__":
    main()
