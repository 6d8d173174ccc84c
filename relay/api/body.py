"""Request bodies: a size limit for every request (413) and content types per endpoint
(415), checked before anything is parsed or written."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relay.api.problems import Problem, problem

JSON = "application/json"
NDJSON = "application/x-ndjson"


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a declared Content-Length over the limit is refused at once; a
    chunked body is counted as it arrives and refused when it passes the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counting() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge()
            return message

        await self.app(scope, counting, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(413, f"request body over the limit of {self.max_bytes} bytes "
                                "(API_MAX_BODY_BYTES); nothing was written",
                           headers={"Connection": "close"})
        await response(scope, receive, send)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def check_media_type(kind: str, *allowed: str) -> str:
    if kind not in allowed:
        raise Problem(415, f"Content-Type must be {' or '.join(allowed)}; got "
                           f"{kind or 'none'}")
    return kind


def parse_json_object(kind: str, raw: bytes) -> dict:
    """The body as one JSON object (415 for another content type, 422 if it is not one)."""
    check_media_type(kind, JSON)
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(422, "the body is not valid JSON", title="Invalid input",
                      errors=[("body", f"not valid JSON: {exc}")]) from None
    if not isinstance(doc, dict):
        raise Problem(422, "the body must be a JSON object", title="Invalid input",
                      errors=[("body", "must be a JSON object")])
    return doc
