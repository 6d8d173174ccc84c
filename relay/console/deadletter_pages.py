"""Dead letters in the console: the list (filtered as `relay dlq list` filters), one dead
letter (masked excerpt, every attempt, the audit trail, where its work stands now), and
replay / discard of one or of a filtered selection — always through a confirmation page
that says how many, then the outcome of each. Replay and discard are
`relay.deadletters.replay/discard`, recorded with the API key's name as who."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from relay import deadletters
from relay.console import queries, web
from relay.deadletters import Filters, parse_duration
from relay.errors import InvalidInput, NotFound

router = APIRouter(include_in_schema=False)
FILTER_FIELDS = ("task", "reason", "brand", "country", "state", "older_than", "newer_than")
LIST_LIMIT = 200
BULK_LIMIT = 1000
VERBS = {"replay": deadletters.replay, "discard": deadletters.discard}


def filters_from(values: dict[str, str], *, state: str | None = None,
                 limit: int | None = None) -> Filters:
    """The CLI's filters from form or query values; InvalidInput names a bad one."""
    def get(name: str) -> str | None:
        return (values.get(name) or "").strip() or None

    return Filters(kind=get("task"), reason=get("reason"), brand=get("brand"),
                   country=get("country"),
                   older_than=parse_duration(get("older_than"), "older_than")
                   if get("older_than") else None,
                   newer_than=parse_duration(get("newer_than"), "newer_than")
                   if get("newer_than") else None,
                   state=state or get("state") or "open", limit=limit)


@router.get("/dead-letters")
def list_page(request: Request):
    session = web.session_of(request)
    values = {k: request.query_params.get(k, "") for k in FILTER_FIELDS}
    rows, error = [], None
    try:
        rows = deadletters.find(filters_from(values, limit=LIST_LIMIT))
    except InvalidInput as exc:
        error = str(exc)
    return web.page(request, "dead_letters.html", session, 400 if error else 200,
                    values=values, rows=web.masked(rows, session), error=error,
                    limit=LIST_LIMIT, stats=web.masked(deadletters.stats(), session))


@router.get("/dead-letters/{dead_letter_id}")
def show_page(request: Request, dead_letter_id: int):
    session = web.session_of(request)
    try:
        doc = deadletters.show(dead_letter_id) if 1 <= dead_letter_id < 2**63 else None
    except NotFound:
        doc = None
    if doc is None:
        return web.page(request, "error.html", session, 404,
                        message=f"No dead letter {dead_letter_id}.")
    now = queries.entity_state(doc["kind"], doc["entity_id"])
    return web.page(request, "dead_letter.html", session, dl=web.masked(doc, session),
                    now=now)


def _selection(form: dict[str, str]) -> tuple[list[int], str]:
    """The ids a POST means (one id, or every open dead letter matching its filters) and
    a query string that brings the list back with the same filters."""
    if form.get("id"):
        try:
            return [int(form["id"])], ""
        except ValueError:
            raise InvalidInput("id", f"not a dead letter id: {form['id']!r}") from None
    filters = filters_from(form, state="open", limit=BULK_LIMIT)
    query = urlencode({k: form[k] for k in FILTER_FIELDS if form.get(k)})
    return deadletters.ids_matching(filters), query


@router.post("/dead-letters/confirm")
async def confirm(request: Request):
    session, form = await web.acting_form(request, operate=True)
    verb = form.get("action", "")
    if verb not in VERBS:
        return web.page(request, "error.html", session, 400,
                        message="Choose Replay or Discard.")
    try:
        ids, query = await run_in_threadpool(_selection, form)
    except InvalidInput as exc:
        return web.page(request, "error.html", session, 400, message=str(exc))
    return web.page(request, "confirm.html", session, verb=verb, ids=ids, form=form,
                    query=query, limit=BULK_LIMIT, fields=FILTER_FIELDS)


@router.post("/dead-letters/apply")
async def apply(request: Request):
    session, form = await web.acting_form(request, operate=True)
    verb = form.get("action", "")
    why = (form.get("why") or "").strip()[:500]
    if verb not in VERBS or not why:
        return web.page(request, "error.html", session, 400,
                        message="Say why (the reason is kept in the audit trail).")
    try:
        ids = [int(i) for i in form.get("ids", "").split(",") if i.strip()]
    except ValueError:
        return web.page(request, "error.html", session, 400, message="Bad selection.")
    if not ids or len(ids) > BULK_LIMIT:
        return web.page(request, "error.html", session, 400,
                        message=f"Select between 1 and {BULK_LIMIT} dead letters.")
    results = await run_in_threadpool(VERBS[verb], ids, by=session.principal.name, why=why)
    return web.page(request, "results.html", session, verb=verb,
                    results=web.masked([r.as_dict() for r in results], session))


@router.get("/console/dead-letters/{dead_letter_id}/now.json")
def now_json(request: Request, dead_letter_id: int):
    """Where one dead letter's work stands (the results page polls it after a replay)."""
    session = web.session_of(request)
    try:
        doc = deadletters.show(dead_letter_id)
    except NotFound as exc:
        return web.json_response({"error": str(exc)}, 404)
    now = queries.entity_state(doc["kind"], doc["entity_id"])
    dead_again = [o for o in doc["other_dead_letters"] if o["id"] > dead_letter_id]
    return web.json_response(web.masked(
        {"id": dead_letter_id, "state": doc["state"], "entity": now,
         "dead_again": dead_again}, session))
