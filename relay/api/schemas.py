"""OpenAPI documentation of bodies the endpoints read themselves.

The producers validate their own input (one code path: the same pydantic models the
Python API uses), so endpoints read raw bodies; these helpers put those models' JSON
Schemas into `/openapi.json` under components/schemas, and define the response shapes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_REF = "#/components/schemas/{model}"
_components: dict[str, Any] = {}


def ref(model: type[BaseModel], name: str | None = None) -> dict:
    """A $ref to `model`'s schema, registering it (and what it uses) as components."""
    schema = model.model_json_schema(ref_template=_REF)
    for def_name, definition in schema.pop("$defs", {}).items():
        _components.setdefault(def_name, definition)
    name = name or model.__name__
    _components.setdefault(name, schema)
    return {"$ref": _REF.format(model=name)}


def json_body(model: type[BaseModel], *, ndjson: bool = False, name: str | None = None,
              required: bool = True) -> dict:
    content = {"application/json": {"schema": ref(model, name)}}
    if ndjson:
        content["application/x-ndjson"] = {
            "schema": {"type": "string",
                       "description": f"one {name or model.__name__} JSON object per line"}}
    return {"requestBody": {"required": required, "content": content}}


def merge_into(openapi: dict) -> dict:
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in _components.items():
        schemas.setdefault(name, schema)
    return openapi


class FieldError(BaseModel):
    field: str
    message: str


class ProblemDoc(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    status: int
    title: str
    detail: str
    errors: list[FieldError] | None = Field(
        None, description="422 only: every bad field, one entry each")


class EmailChangeReceipt(BaseModel):
    model_config = ConfigDict(extra="allow")

    change_id: str
    state: str
    request_id: str | None = None
    requested_at: str
    duplicate: bool = Field(description="true: a repeat of an earlier request_id; this is "
                                        "the first receipt")
    queued_behind: bool


class OrderEventsSummary(BaseModel):
    model_config = ConfigDict(extra="allow")

    events: int
    new_events: int
    duplicates: int
    notifications: int
    by_state: dict[str, int]
    suppressed: dict[str, int]


class Why(BaseModel):
    model_config = ConfigDict(extra="forbid")

    why: str | None = Field(None, max_length=500, description="audit note, e.g. a ticket")


class BulkResolve(BaseModel):
    """Which open dead letters a bulk replay/discard means (as `relay dlq replay --all`)."""

    model_config = ConfigDict(extra="forbid")

    task: str | None = Field(None, max_length=64, description="kind, e.g. email_change")
    reason: str | None = Field(None, max_length=128)
    brand: str | None = Field(None, max_length=64)
    country: str | None = Field(None, max_length=2)
    older_than: str | None = Field(None, max_length=32, description="e.g. 1h, 7d")
    newer_than: str | None = Field(None, max_length=32, description="e.g. 30m, 24h")
    limit: int | None = Field(None, ge=1, le=100_000)
    dry_run: bool = Field(True, description="true (the default): report, change nothing")
    why: str | None = Field(None, max_length=500)


def errors(*codes: int) -> dict[int | str, dict]:
    """`responses=` entries documenting problem documents for these status codes."""
    from http import HTTPStatus

    problem_schema = ref(ProblemDoc, "Problem")
    return {code: {"description": HTTPStatus(code).phrase,
                   "content": {"application/problem+json": {"schema": problem_schema}}}
            for code in codes}
