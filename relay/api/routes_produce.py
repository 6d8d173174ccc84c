"""Producers over HTTP: email changes and order events in, and reading them back.

Each endpoint calls the function the Python API and the CLI call (`enqueue_email_change`,
`notifications.intake.record_documents`, `change_details`, `order_timeline`): the same
validation, idempotency and outbox, not a copy.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from notifications.models import OrderEvent
from relay.api import submissions
from relay.api.auth import authorize, bearer, require_credentials, require_scope
from relay.api.body import JSON, NDJSON, check_media_type, media_type, parse_json_object
from relay.api.jsondoc import cli_json
from relay.api.masking import for_principal
from relay.api.schemas import (
    EmailChangeReceipt,
    OrderEventsSummary,
    errors,
    json_body,
)
from relay.apikeys import Principal
from relay.errors import InvalidInput, NotFound
from relay.jsonlines import parse_lines
from sync_worker.models import EmailChangeRequest

router = APIRouter(prefix="/v1")
reader = require_scope("read", "produce")



@router.post(
    "/email-changes", status_code=202, response_model=EmailChangeReceipt,
    summary="Submit an email change (the producer API over HTTP)",
    openapi_extra=json_body(EmailChangeRequest),
    responses=errors(401, 403, 413, 415, 422, 429, 503))
async def post_email_change(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer()),
        idempotency_key: str | None = Header(
            None, alias="Idempotency-Key", max_length=128,
            description="the request_id: a repeat returns the first receipt")):
    # The hot path: key lookup, validation and the producer in ONE thread-pool call.
    require_credentials(credentials)   # no body is read for a request without a key
    raw = await request.body()
    receipt = await run_in_threadpool(_enqueue, credentials, media_type(request), raw,
                                      idempotency_key)
    return JSONResponse(receipt.as_dict(), status_code=202)


def _enqueue(credentials, kind: str, raw: bytes, idempotency_key: str | None):
    from sync_worker.models import parse_request
    from sync_worker.producer import enqueue_request

    principal, doc = change_request(credentials, kind, raw, idempotency_key)
    request = parse_request(doc)   # once; InvalidInput lists every problem, unknown keys too
    receipt = enqueue_request(request, also=lambda tx, change_id: submissions.add(
        tx, principal, submissions.EMAIL_CHANGE, str(change_id)))
    if receipt.duplicate:   # the first attempt may have come with another key
        submissions.record(principal, submissions.EMAIL_CHANGE, [str(receipt.change_id)])
    return receipt


@router.get("/email-changes/{change_id}", summary="One email change: state, carrier, attempts",
            responses=errors(401, 403, 404, 422, 429, 503))
def get_email_change(change_id: uuid.UUID, principal: Principal = Depends(reader)):
    from sync_worker.oncall import change_details

    if principal.scope == "produce" and not submissions.owns(
            principal, submissions.EMAIL_CHANGE, str(change_id)):
        raise NotFound(f"no email change {change_id} submitted with this key")
    doc = change_details(change_id, masked=principal.scope != "produce")
    return cli_json(for_principal(doc, principal))   # attempt details too


@router.post(
    "/order-events", status_code=202, response_model=OrderEventsSummary,
    summary="Submit one order event (application/json) or many (application/x-ndjson)",
    openapi_extra=json_body(OrderEvent, ndjson=True),
    responses=errors(401, 403, 413, 415, 422, 429, 503))
async def post_order_events(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer())):
    require_credentials(credentials)
    raw = await request.body()
    summary = await run_in_threadpool(_record_body, credentials, media_type(request), raw)
    return JSONResponse(summary, status_code=202)


def _record_body(credentials, kind: str, raw: bytes) -> dict:
    principal = authorize(credentials, "produce")
    check_media_type(kind, JSON, NDJSON)
    items = [(None, parse_json_object(kind, raw))] if kind == JSON else _ndjson(raw)
    return _record(items, principal)


def _ndjson(raw: bytes) -> list[tuple[str, object]]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("body", "not UTF-8") from None
    return parse_lines(text, what="body", items="events")


def _record(items: list, principal: Principal) -> dict:
    from notifications.intake import record_documents

    summary = record_documents(items)
    orders = [doc.get("order_id") or (doc.get("order") or {}).get("number")
              for _, doc in items if isinstance(doc, dict)]
    submissions.record(principal, submissions.ORDER,
                       [o for o in orders if isinstance(o, str) and o])
    return summary


@router.get("/orders/{order_id}", summary="An order's timeline (= relay orders show --json)",
            responses=errors(401, 403, 404, 429, 503))
def get_order(order_id: str = Path(max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$"),
              principal: Principal = Depends(reader)):
    from notifications.oncall import order_timeline

    if principal.scope == "produce" and not submissions.owns(
            principal, submissions.ORDER, order_id):
        raise NotFound(f"no events for order {order_id} submitted with this key")
    return cli_json(for_principal(order_timeline(order_id), principal))


def change_request(credentials, kind: str, raw: bytes, idempotency_key: str | None):
    """A change's body as a dict, for any change kind: the produce scope checked, the
    Idempotency-Key header as its request_id, the key's name as requested_by by default."""
    principal = authorize(credentials, "produce")
    doc = parse_json_object(kind, raw)
    if idempotency_key is not None:
        if doc.get("request_id") not in (None, idempotency_key):
            raise InvalidInput("request_id", "differs from the Idempotency-Key header")
        doc["request_id"] = idempotency_key
    if not doc.get("requested_by"):
        doc["requested_by"] = f"api:{principal.name}"
    return principal, doc
