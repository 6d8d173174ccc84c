"""Profile changes and data-protection requests over HTTP: the same functions as
`relay enqueue profile-change` and `relay privacy erase|export` (relay/privacy,
sync_worker.profile_producer), not copies.

`POST /v1/profile-changes` (produce) takes the fields of `enqueue_profile_change`; the
`Idempotency-Key` header is the request_id. `POST /v1/privacy/erasures` and
`GET /v1/privacy/export` need an `operate` key: the erasure is recorded as done by the
key's name, and the export is the one response that carries personal data unmasked (it
answers the customer's access request).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from relay.api import submissions
from relay.api.auth import bearer, require_credentials, require_scope
from relay.api.body import media_type
from relay.api.jsondoc import cli_json
from relay.api.masking import for_principal
from relay.api.routes_produce import change_request
from relay.api.schemas import EmailChangeReceipt, errors, json_body
from relay.apikeys import Principal
from relay.errors import NotFound
from sync_worker.profile_models import ProfileChangeRequest

router = APIRouter(prefix="/v1")
reader = require_scope("read", "produce")
operator = require_scope("operate")
PROFILE_CHANGE = "profile_change"

_FIELDS = tuple(ProfileChangeRequest.model_fields)


@router.post(
    "/profile-changes", status_code=202, response_model=EmailChangeReceipt,
    summary="Submit a profile change: phone, names, address (the producer API over HTTP)",
    openapi_extra=json_body(ProfileChangeRequest),
    responses=errors(401, 403, 413, 415, 422, 429, 503))
async def post_profile_change(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer()),
        idempotency_key: str | None = Header(
            None, alias="Idempotency-Key", max_length=128,
            description="the request_id: a repeat returns the first receipt")):
    require_credentials(credentials)
    raw = await request.body()
    receipt = await run_in_threadpool(_enqueue, credentials, media_type(request), raw,
                                      idempotency_key)
    return JSONResponse(receipt.as_dict(), status_code=202)


def _enqueue(credentials, kind: str, raw: bytes, idempotency_key: str | None):
    from sync_worker import enqueue_profile_change
    from sync_worker.profile_models import parse_profile_request

    principal, doc = change_request(credentials, kind, raw, idempotency_key)
    if set(doc) - set(_FIELDS):
        parse_profile_request(doc)   # raises InvalidInput naming the unknown field
    receipt = enqueue_profile_change(**doc)
    submissions.record(principal, PROFILE_CHANGE, [str(receipt.change_id)])
    return receipt


@router.get("/profile-changes/{change_id}",
            summary="One profile change: state, carrier, fields set (never their values)",
            responses=errors(401, 403, 404, 422, 429, 503))
def get_profile_change(change_id: uuid.UUID, principal: Principal = Depends(reader)):
    from sync_worker.oncall import profile_change_details as change_details

    if principal.scope == "produce" and not submissions.owns(
            principal, PROFILE_CHANGE, str(change_id)):
        raise NotFound(f"no profile change {change_id} submitted with this key")
    return cli_json(for_principal(change_details(change_id), principal))


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(max_length=100)
    brand: str = Field(max_length=64)
    country: str = Field(max_length=2)
    why: str | None = Field(None, max_length=500,
                            description="the request's reference (a ticket); no personal data")


@router.post("/privacy/erasures",
             summary="Erase one customer's personal data from every table (audited); "
                     "200 when complete, 409 when work in flight kept some (call again)",
             responses=errors(401, 403, 409, 415, 422, 429, 503))
async def erase(body: ErasureRequest, principal: Principal = Depends(operator)):
    from relay.privacy.erasure import erase as erase_customer
    from relay.privacy.subject import Subject

    subject = Subject.parse(body.customer_id, body.brand, body.country)
    result = await run_in_threadpool(erase_customer, subject, by=principal.name, why=body.why)
    return JSONResponse(result.as_dict(), status_code=200 if result.complete else 409)


@router.get("/privacy/export",
            summary="Everything relay holds about one customer (= relay privacy export), "
                    "unmasked",
            responses=errors(401, 403, 422, 429, 503))
def export(principal: Principal = Depends(operator),
           customer_id: str = Query(max_length=100), brand: str = Query(max_length=64),
           country: str = Query(max_length=2)):
    from relay.privacy.access import export as export_customer
    from relay.privacy.subject import Subject

    return cli_json(export_customer(Subject.parse(customer_id, brand, country)))
