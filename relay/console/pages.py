"""The console's pages: sign-in and out, the overview (and its JSON, fetched every few
seconds), trends, look-ups and the monthly review. Every read goes through the functions
`relay status`, `relay orders show`, `relay sla report` and the HTTP API use."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from relay.console import figures, sessions, trends, web
from relay.console.cache import Refreshing
from relay.console.review import csv_of, month_report
from relay.errors import InvalidInput, NotFound

router = APIRouter(include_in_schema=False)
SECURE_COOKIE_SCHEMES = {"https"}
# Trend series and monthly reports count today's live rows: computed in the background at
# most once a minute per process (relay/console/cache.py), keyed by range or month.
trends_cache = Refreshing(trends.series, 60.0)
review_cache = Refreshing(month_report, 60.0)


def _series(range_name: str) -> dict:
    if range_name not in trends.RANGES:
        return trends.series(range_name)  # raises InvalidInput naming the range
    return trends_cache.get(range_name)[0]


def _month(month: str) -> dict:
    from notifications.sla.reports import parse_month

    start, _ = parse_month(month, datetime.now(UTC))  # InvalidInput for a bad month
    return review_cache.get(start.strftime("%Y-%m"))[0]


@router.get("/sign-in")
def sign_in_form(request: Request):
    return web.page(request, "sign_in.html", None, error=None)


@router.post("/sign-in")
async def sign_in(request: Request):
    form = await web.form_of(request)
    if not web.same_origin(request):
        return web.page(request, "sign_in.html", None, 403,
                        error="The sign-in form came from another site.")
    try:
        token, _ = await run_in_threadpool(sessions.sign_in, form.get("api_key", ""))
    except sessions.SignInRefused as refused:
        return web.page(request, "sign_in.html", None, 401, error=str(refused))
    response = web.redirect("/")
    response.set_cookie(sessions.COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme in SECURE_COOKIE_SCHEMES, path="/",
                        max_age=int(sessions.LIFETIME.total_seconds()))
    return response


@router.post("/sign-out")
async def sign_out(request: Request):
    await web.acting_form(request, operate=False)
    await run_in_threadpool(sessions.sign_out, request.cookies.get(sessions.COOKIE))
    response = web.redirect("/sign-in")
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


@router.get("/")
def overview(request: Request):
    session = web.session_of(request)
    doc = web.masked(figures.overview(), session)
    return web.page(request, "overview.html", session, data=web.embed(doc))


@router.get("/console/overview.json")
def overview_json(request: Request):
    session = web.session_of(request)
    return web.json_response(web.masked(figures.overview(), session))


@router.get("/trends")
def trends_page(request: Request, range: str = "24h"):
    session = web.session_of(request)
    try:
        doc, error = _series(range), None
    except InvalidInput as exc:
        doc, error = None, str(exc)
    return web.page(request, "trends.html", session, 400 if error else 200,
                    data=web.embed(doc), range=range, ranges=list(trends.RANGES), error=error)


@router.get("/console/trends.json")
def trends_json(request: Request, range: str = "24h"):
    session = web.session_of(request)
    try:
        return web.json_response(web.masked(_series(range), session))
    except InvalidInput as exc:
        return web.json_response({"error": str(exc)}, 400)


@router.get("/email-changes")
def email_changes(request: Request, q: str = ""):
    from sync_worker.ops import change_details

    session = web.session_of(request)
    q = q.strip()[:128]
    change, changes, error = None, [], None
    if q:
        try:
            change = web.masked(change_details(uuid.UUID(q)), session)
        except ValueError:
            from relay.console.queries import changes_of_customer

            changes = web.masked(changes_of_customer(q), session)
            if not changes:
                error = f"No email change has id or customer id {q!r}."
        except NotFound as exc:
            error = str(exc)
        if change is None and len(changes) == 1:
            change = web.masked(change_details(uuid.UUID(changes[0]["id"])), session)
    return web.page(request, "email_changes.html", session, q=q, change=change,
                    changes=changes, error=error)


@router.get("/orders")
def orders(request: Request, order_id: str = ""):
    from notifications.oncall import order_timeline

    session = web.session_of(request)
    order_id = order_id.strip()[:128]
    order, error = None, None
    if order_id:
        try:
            order = web.masked(order_timeline(order_id), session)
        except NotFound as exc:
            error = str(exc)
    return web.page(request, "order.html", session, order_id=order_id, order=order,
                    error=error)


@router.get("/review")
def review(request: Request, month: str = ""):
    session = web.session_of(request)
    month = month.strip() or datetime.now(UTC).strftime("%Y-%m")
    try:
        doc, error = web.masked(_month(month), session), None
    except InvalidInput as exc:
        doc, error = None, str(exc)
    return web.page(request, "review.html", session, 400 if error else 200, month=month,
                    report=doc, error=error)


@router.get("/review.csv")
def review_csv(request: Request, month: str = ""):
    from fastapi.responses import Response

    session = web.session_of(request)
    month = month.strip() or datetime.now(UTC).strftime("%Y-%m")
    try:
        body = csv_of(web.masked(_month(month), session))
    except InvalidInput as exc:
        return web.json_response({"error": str(exc)}, 400)
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        **web.SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="relay-sla-{month}.csv"'})
