"""Schemathesis against `/openapi.json` of a running `relay serve`: generated requests to
every operation, with a key of the scope the operation needs. No 5xx, and every response
(2xx and problem documents alike) conforms to the schema."""

from __future__ import annotations

import json

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 12   # per operation: ~14 operations stay well under a minute


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_ctx, value) -> bytes:
    """Bodies the schema types as a string of JSON lines (the campaign audience): sent as
    generated, so malformed lines reach the server too and must get a 4xx, never a 5xx."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return json.dumps(value).encode()


def _scope(method: str, path: str) -> str:
    if method == "POST" and path in {"/v1/email-changes", "/v1/order-events"}:
        return "produce"
    if method == "POST":
        return "operate"
    return "read"


def test_every_operation_conforms_to_the_schema_and_never_answers_5xx(start_api):
    api = start_api(API_RATE_LIMIT_RPS="0")
    keys = {s: api.key(f"schemathesis-{s}", s) for s in ("produce", "read", "operate")}
    schema = schemathesis.openapi.from_url(api.url + "/openapi.json")
    session = requests.Session()
    failures, ran = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        key = keys[_scope(operation.method.upper(), operation.path)]
        run = _runner(operation, session, api.url, {"Authorization": f"Bearer {key}"})
        try:
            run()
            ran += 1
        except Exception as exc:   # collect every operation's failure, then report
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)[:6000]
    assert ran >= 12
    assert "api.unexpected_error" not in api.log()
    # the generated requests did reach the server (the API counts them itself)
    metrics = api.call("GET", "/metrics", keys["read"]).text
    served = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                 if line.startswith("relay_api_requests_total{"))
    assert served >= ran * 3, served


def _runner(operation, session, base_url, headers):
    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(session=session, headers=headers, base_url=base_url,
                               checks=[checks.not_a_server_error,
                                       checks.status_code_conformance,
                                       checks.content_type_conformance,
                                       checks.response_schema_conformance])
    return run
