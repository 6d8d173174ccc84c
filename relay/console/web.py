"""Plumbing shared by the console's pages: templates, the signed-in session, CSRF checks,
form parsing (urlencoded, read by hand: no multipart dependency for one text field) and
JSON encoding."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from relay.api.masking import for_principal
from relay.console import sessions
from relay.console.sessions import Session

HERE = Path(__file__).parent
FORM_LIMIT = 64 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
                               "form-action 'self'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

env = Environment(loader=FileSystemLoader(HERE / "templates"),
                  autoescape=select_autoescape(["html"]), trim_blocks=True,
                  lstrip_blocks=True)


class NotSignedIn(Exception):
    """Raised by `session_of`; the app answers with a redirect to the sign-in page (pages)
    or a 401 (JSON)."""


class Forbidden(Exception):
    """A read key asked to act, or a POST failed its CSRF check."""


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value) if isinstance(value, UUID) else float(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def dumps(doc: Any) -> str:
    return json.dumps(doc, default=_default, separators=(",", ":"))


def embed(doc: Any) -> str:
    """JSON safe inside <script type="application/json">: no "</script>" can close it."""
    return dumps(doc).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def masked(doc: Any, session: Session) -> Any:
    """What the session's key may see: the API's own masking (emails and phones)."""
    return for_principal(json.loads(dumps(doc)), session.principal)


def session_of(request: Request) -> Session:
    session = sessions.current(request.cookies.get(sessions.COOKIE))
    if session is None:
        raise NotSignedIn()
    return session


async def form_of(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > FORM_LIMIT:
        raise Forbidden("form too large")
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in parsed.items()}


def same_origin(request: Request) -> bool:
    """A browser sends Origin on every POST; it must be this console's own."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None  # non-browser clients send none; "null" is an opaque origin
    return urlsplit(origin).netloc == request.headers.get("host")


async def acting_form(request: Request, *, operate: bool) -> tuple[Session, dict[str, str]]:
    """A POST from a signed-in session: same origin, the session's CSRF token, and (for
    `operate`) a key that may act."""
    session = session_of(request)
    form = await form_of(request)
    if not same_origin(request) or not sessions.csrf_ok(session, form.get("csrf")):
        raise Forbidden("The form was stale or came from another site (CSRF check "
                        "failed). Reload the page and try again.")
    if operate and not session.may_act:
        raise Forbidden(f"The key {session.principal.name!r} has scope "
                        f"{session.principal.scope!r}: replay and discard need an operate "
                        "key.")
    return session, form


def page(request: Request, template: str, session: Session | None, status: int = 200,
         **context: Any) -> HTMLResponse:
    from relay.settings import get_settings

    html = env.get_template(template).render(
        session=session, flower_url=get_settings().flower_url, path=request.url.path,
        **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def json_response(doc: Any, status: int = 200) -> Response:
    return Response(dumps(doc), status_code=status, media_type="application/json",
                    headers=SECURITY_HEADERS)
