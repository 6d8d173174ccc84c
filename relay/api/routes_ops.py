"""On-call over HTTP: dead letters (list, show, replay, discard, filtered bulk), status,
health and readiness. The same functions as `relay dlq …` and `relay status`; the API
key's name is recorded as who replayed or discarded."""

from __future__ import annotations

import time

from fastapi import APIRouter, Body, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from relay import deadletters
from relay.api.auth import require_scope
from relay.api.jsondoc import cli_json
from relay.api.masking import for_principal
from relay.api.problems import Problem
from relay.api.schemas import BulkResolve, Why, errors
from relay.apikeys import Principal
from relay.deadletters import Filters, parse_duration
from relay.logs import scrub_value

router = APIRouter(prefix="/v1")
reader = require_scope("read")
operator = require_scope("operate")


def _filters(task, reason, brand, country, older_than, newer_than, state="open",
             limit=None) -> Filters:
    return Filters(kind=task, reason=reason, brand=brand, country=country,
                   older_than=parse_duration(older_than, "older_than") if older_than else None,
                   newer_than=parse_duration(newer_than, "newer_than") if newer_than else None,
                   state=state, limit=limit)


@router.get("/dead-letters", summary="Dead letters, newest first (= relay dlq list --json)",
            responses=errors(401, 403, 422, 429, 503))
def list_dead_letters(
        principal: Principal = Depends(reader),
        task: str | None = Query(None, max_length=64, description="kind, e.g. email_change"),
        reason: str | None = Query(None, max_length=128),
        brand: str | None = Query(None, max_length=64),
        country: str | None = Query(None, max_length=2),
        state: str = Query("open", description="open, replayed, discarded or all"),
        older_than: str | None = Query(None, max_length=32, description="e.g. 1h, 7d"),
        newer_than: str | None = Query(None, max_length=32, description="e.g. 30m, 24h"),
        limit: int = Query(50, ge=1, le=1000)):
    filters = _filters(task, reason, brand, country, older_than, newer_than, state, limit)
    rows = deadletters.find(filters)
    return cli_json(for_principal({"count": len(rows), "limit": limit, "dead_letters": rows},
                                  principal))


@router.get("/dead-letters/{dead_letter_id}", summary="One dead letter (= relay dlq show)",
            responses=errors(401, 403, 404, 422, 429, 503))
def show_dead_letter(dead_letter_id: int, principal: Principal = Depends(reader)):
    _check_id(dead_letter_id)
    return cli_json(for_principal(deadletters.show(dead_letter_id), principal))


def _check_id(dead_letter_id: int) -> None:
    if not 1 <= dead_letter_id <= 2**63 - 1:
        raise Problem(404, f"no dead letter {dead_letter_id}")


_OUTCOME_STATUS = {"replayed": 200, "discarded": 200, "not_found": 404, "skipped": 409,
                   "failed": 409}


def _resolve_one(verb: str, dead_letter_id: int, principal: Principal, why: str | None):
    _check_id(dead_letter_id)
    fn = deadletters.replay if verb == "replay" else deadletters.discard
    result = fn([dead_letter_id], by=principal.name, why=why)[0]
    status = _OUTCOME_STATUS.get(result.outcome, 409)
    if status >= 400:
        raise Problem(status, scrub_value(result.message))
    return JSONResponse(scrub_value(result.as_dict()))


@router.post("/dead-letters/{dead_letter_id}/replay",
             summary="Replay one dead letter through the normal path (audited)",
             responses=errors(401, 403, 404, 409, 415, 422, 429, 503))
def replay_dead_letter(dead_letter_id: int, body: Why = Body(default_factory=Why),
                       principal: Principal = Depends(operator)):
    return _resolve_one("replay", dead_letter_id, principal, body.why)


@router.post("/dead-letters/{dead_letter_id}/discard",
             summary="Close one dead letter without replaying it (audited)",
             responses=errors(401, 403, 404, 409, 415, 422, 429, 503))
def discard_dead_letter(dead_letter_id: int, body: Why = Body(default_factory=Why),
                        principal: Principal = Depends(operator)):
    return _resolve_one("discard", dead_letter_id, principal, body.why)


def _bulk(verb: str, body: BulkResolve, principal: Principal) -> dict:
    filters = _filters(body.task, body.reason, body.brand, body.country, body.older_than,
                       body.newer_than, "open", body.limit)
    selected = deadletters.ids_matching(filters)
    fn = deadletters.replay if verb == "replay" else deadletters.discard
    started = time.perf_counter()
    results = fn(selected, by=principal.name, why=body.why, dry_run=body.dry_run)
    return deadletters.summary(verb, results, selected, body.dry_run, principal.name,
                               time.perf_counter() - started)


@router.post("/dead-letters/replay",
             summary="Replay every open dead letter matching the filters (dry run by default)",
             responses=errors(401, 403, 415, 422, 429, 503))
async def bulk_replay(body: BulkResolve, principal: Principal = Depends(operator)):
    return JSONResponse(await run_in_threadpool(_bulk, "replay", body, principal))


@router.post("/dead-letters/discard",
             summary="Discard every open dead letter matching the filters (dry run by default)",
             responses=errors(401, 403, 415, 422, 429, 503))
async def bulk_discard(body: BulkResolve, principal: Principal = Depends(operator)):
    return JSONResponse(await run_in_threadpool(_bulk, "discard", body, principal))


@router.get("/status", summary="The system at a glance (= relay status --json)",
            responses=errors(401, 403, 429, 503))
def status(principal: Principal = Depends(reader)):
    from relay.status import collect

    return cli_json(for_principal(collect(), principal))
