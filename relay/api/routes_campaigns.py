"""Campaigns over HTTP (`relay campaign …`): `operate` keys create and control them, `read`
keys see them. The same functions as the CLI (notifications/campaigns/service.py): the
audience is validated whole before anything is written, a bad line is a 422 naming it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from notifications.campaigns.models import CampaignSpec
from relay.api.auth import authorize, bearer, require_credentials, require_scope
from relay.api.body import JSON, NDJSON, check_media_type, media_type, parse_json_object
from relay.api.jsondoc import cli_json
from relay.api.routes_produce import _ndjson
from relay.api.schemas import errors, json_body
from relay.apikeys import Principal

router = APIRouter(prefix="/v1")
reader = require_scope("read")
operator = require_scope("operate")
CampaignId = Path(max_length=100, pattern=r"^[^\s:\x00-\x1f\x7f]+$")


@router.post("/campaigns", status_code=201, summary="Create a campaign (= relay campaign create)",
             openapi_extra=json_body(CampaignSpec),
             responses=errors(401, 403, 413, 415, 422, 429, 503))
async def create_campaign(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer())):
    require_credentials(credentials)
    raw = await request.body()
    campaign_id = await run_in_threadpool(_create, credentials, media_type(request), raw)
    return JSONResponse({"id": campaign_id, "state": "created"}, status_code=201)


def _create(credentials, kind: str, raw: bytes) -> str:
    from notifications.campaigns import service

    authorize(credentials, "operate")
    return service.create(parse_json_object(kind, raw))


@router.post("/campaigns/{campaign_id}/start", status_code=202,
             summary="Record the audience (application/x-ndjson: one customer per line) "
                     "and start sending (= relay campaign start)",
             openapi_extra={"requestBody": {"required": True, "content": {NDJSON: {
                 "schema": {"type": "string", "description": "one customer per line: the "
                            "OrderEvent customer shape plus country and locale"}}}}},
             responses=errors(401, 403, 404, 413, 415, 422, 429, 503))
async def start_campaign(
        request: Request, campaign_id: str = CampaignId,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer())):
    require_credentials(credentials)
    raw = await request.body()
    doc = await run_in_threadpool(_start, credentials, campaign_id, media_type(request), raw)
    return JSONResponse(doc, status_code=202)


def _start(credentials, campaign_id: str, kind: str, raw: bytes) -> dict:
    from notifications.campaigns import service

    authorize(credentials, "operate")
    check_media_type(kind, NDJSON, JSON)
    lines = _ndjson(raw)
    result = service.start(campaign_id, lines)
    return {"id": campaign_id, "recipients": result.events, "new": result.new_events,
            "already_recorded": result.duplicates, "notifications": result.notifications,
            "by_state": dict(result.by_state), "suppressed": dict(result.suppressed)}


def _control(verb: str, campaign_id: str) -> JSONResponse:
    from notifications.campaigns import service

    outcome = getattr(service, verb)(campaign_id)
    body = outcome if isinstance(outcome, dict) else {"rows": outcome}
    return JSONResponse({"id": campaign_id, **body})


@router.post("/campaigns/{campaign_id}/pause", summary="Stop sending; unsent messages wait",
             responses=errors(401, 403, 404, 422, 429, 503))
def pause_campaign(campaign_id: str = CampaignId, principal: Principal = Depends(operator)):
    return _control("pause", campaign_id)


@router.post("/campaigns/{campaign_id}/resume", summary="Send the paused messages",
             responses=errors(401, 403, 404, 422, 429, 503))
def resume_campaign(campaign_id: str = CampaignId, principal: Principal = Depends(operator)):
    return _control("resume", campaign_id)


@router.post("/campaigns/{campaign_id}/cancel",
             summary="Cancel every unsent message (waits for sends in flight)",
             responses=errors(401, 403, 404, 422, 429, 503))
def cancel_campaign(campaign_id: str = CampaignId, principal: Principal = Depends(operator)):
    return _control("cancel", campaign_id)


@router.get("/campaigns/{campaign_id}",
            summary="Recipients by state, rate and ETA (= relay campaign show --json)",
            responses=errors(401, 403, 404, 429, 503))
def show_campaign(campaign_id: str = CampaignId, principal: Principal = Depends(reader)):
    from notifications.campaigns import service

    return cli_json(service.show(campaign_id))
