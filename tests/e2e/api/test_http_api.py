"""The HTTP API as integrators use it: a real `relay serve` process, real PostgreSQL,
Redis, sync worker and Homeria stand-in."""

from __future__ import annotations

import json
import uuid

import pytest

from relay import apikeys
from relay.db import connection
from tests.integration.sync.helpers import change
from tests.support import run_cli, wait_until

pytestmark = pytest.mark.e2e

JSON = {"Content-Type": "application/json"}


def body(n: int = 1, new: str | None = None, **over) -> dict:
    doc = {"customer_id": f"C-{n}", "current_email": f"c{n}@example.com",
           "new_email": new or f"new{n}@example.com", "brand": "acme", "country": "ES"}
    doc.update(over)
    return doc


def count(table: str) -> int:
    with connection() as conn:
        n = conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]
        conn.commit()
    return n


def event(n: int, order: str = "SO-1", **over) -> dict:
    doc = {"event_id": f"oms-{order}-{n}", "type": "order_confirmed", "order_id": order,
           "occurred_at": "2026-11-30T09:00:00Z", "brand": "acme", "country": "ES",
           "locale": "es-ES",
           "customer": {"customer_id": "C-9", "email": "ana@example.com",
                        "phone": "+34600000000", "channels": ["email", "sms"]},
           "order": {"number": order, "items": [{"sku": "X1", "name": "Lamp", "qty": 1}]}}
    doc.update(over)
    return doc


def test_an_email_change_sent_over_http_reaches_homeria(api_with_sync, homeria):
    api = api_with_sync
    key = api.key("admin-tool", "produce")
    # when the admin tool submits a change with an Idempotency-Key
    sent = api.call("POST", "/v1/email-changes", key, json=body(3),
                    headers={"Idempotency-Key": "ticket-1"})
    assert sent.status_code == 202, sent.text
    receipt = sent.json()
    assert receipt["state"] == "pending" and receipt["duplicate"] is False
    # then Homeria holds the new email, and the API reports it synced with its attempts
    wait_until(lambda: homeria.state.lookup("acme", "ES", "new3@example.com"), timeout=15,
               message="the change at the Homeria stand-in")
    wait_until(lambda: change(receipt["change_id"])["state"] == "synced", timeout=10)
    shown = api.call("GET", f"/v1/email-changes/{receipt['change_id']}", key).json()
    assert shown["state"] == "synced" and shown["new_email"] == "new3@example.com"
    assert shown["attempts"] and shown["requested_by"] == "api:admin-tool"
    # a repeat of the Idempotency-Key returns the first receipt and creates nothing
    again = api.call("POST", "/v1/email-changes", key, json=body(3),
                     headers={"Idempotency-Key": "ticket-1"})
    assert again.status_code == 202
    assert again.json()["change_id"] == receipt["change_id"] and again.json()["duplicate"]
    assert count("email_changes") == 1
    # a read key sees it with emails masked; another produce key does not see it at all
    reader = api.key("oncall", "read")
    masked = api.call("GET", f"/v1/email-changes/{receipt['change_id']}", reader).json()
    assert masked["new_email"] == "n***@example.com"
    other = api.key("other-producer", "produce")
    assert api.call("GET", f"/v1/email-changes/{receipt['change_id']}",
                    other).status_code == 404


def test_keys_scopes_and_revocation(start_api):
    api = start_api()
    producer, reader, operator = (api.key("p", "produce"), api.key("r", "read", cli=True),
                                  api.key("o", "operate"))
    # no key, or an unknown one: 401 with a Bearer challenge
    for key in (None, "relay_not-a-key"):
        r = api.call("GET", "/v1/status", key)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
        assert r.headers["content-type"] == "application/problem+json"
    # a key without the scope: 403
    assert api.call("POST", "/v1/email-changes", reader, json=body()).status_code == 403
    assert api.call("POST", "/v1/email-changes", operator, json=body()).status_code == 403
    assert api.call("GET", "/v1/status", producer).status_code == 403
    assert api.call("POST", "/v1/dead-letters/1/discard", reader, json={}).status_code == 403
    # read is part of operate
    assert api.call("GET", "/v1/status", operator).status_code == 200
    assert api.call("GET", "/v1/dead-letters", reader).status_code == 200
    # nothing was written by any of them
    assert count("email_changes") == 0
    # last use is recorded; the key is stored hashed, never in clear
    listed = json.loads(run_cli(["api-keys", "list", "--json"], api.env).stdout)["api_keys"]
    assert {k["name"]: k["last_used_at"] is not None for k in listed} == \
        {"o": True, "p": True, "r": True}
    with connection() as conn:
        stored = conn.execute("SELECT key_hash FROM api_keys").fetchall()
        conn.commit()
    assert all(reader.encode() not in bytes(r["key_hash"]) for r in stored)
    # revoked: refused within the bound each API process may remember a key for
    assert run_cli(["api-keys", "revoke", "r"], api.env).returncode == 0
    wait_until(lambda: api.call("GET", "/v1/status", reader).status_code == 401,
               timeout=apikeys.CACHE_SECONDS + 3, message="the revoked key refused")


def test_bad_input_is_refused_whole_naming_every_field(start_api):
    api = start_api(API_MAX_BODY_BYTES="65536")
    key = api.key("p", "produce")
    # every bad field at once
    r = api.call("POST", "/v1/email-changes", key,
                 json=body(customer_id="", current_email="nope", brand="zzz", country="XX",
                           extra=1))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert {e["field"] for e in problem["errors"]} == \
        {"customer_id", "current_email", "brand", "country", "extra"}
    assert problem["status"] == 422 and problem["title"] and problem["detail"]
    # many events: every bad line, each with its bad fields; nothing written
    lines = [event(1), event(2, brand="zzz", locale="x"), event(3),
             event(4, customer={"customer_id": "C-1", "email": "bad"})]
    ndjson = "\n".join(json.dumps(e) for e in lines) + "\n{broken\n"
    r = api.call("POST", "/v1/order-events", key, data=ndjson,
                 headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 422, r.text
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields[:1] == ["line 5"] or "line 5" in fields
    r = api.call("POST", "/v1/order-events", key, data="\n".join(json.dumps(e) for e in lines),
                 headers={"Content-Type": "application/x-ndjson"})
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"line 2: brand", "line 2: locale", "line 4: customer.email"} <= fields, fields
    # wrong content type, body over the limit
    assert api.call("POST", "/v1/email-changes", key, data="customer_id=1",
                    headers={"Content-Type": "application/x-www-form-urlencoded"}
                    ).status_code == 415
    big = api.call("POST", "/v1/order-events", key, data="x" * 70_000,
                   headers={"Content-Type": "application/x-ndjson"})
    assert big.status_code == 413 and big.json()["status"] == 413
    assert count("email_changes") == count("order_events") == count("outbox") == 0
    # and good events go in, one or many
    one = api.call("POST", "/v1/order-events", key, json=event(1))
    assert one.status_code == 202 and one.json()["new_events"] == 1
    many = api.call("POST", "/v1/order-events", key,
                    data="\n".join(json.dumps(event(n)) for n in range(1, 4)),
                    headers={"Content-Type": "application/x-ndjson"})
    assert many.status_code == 202 and many.json()["new_events"] == 2
    assert many.json()["duplicates"] == 1


def test_order_timeline_and_status_are_what_the_cli_prints(start_api):
    api = start_api(workers=2)   # and /metrics sums both processes' request counters
    producer, reader = api.key("p", "produce"), api.key("r", "read")
    assert api.call("POST", "/v1/order-events", producer,
                    json=event(1, order="SO-77")).status_code == 202
    cli = json.loads(run_cli(["orders", "show", "SO-77", "--json"], api.env).stdout)
    assert api.call("GET", "/v1/orders/SO-77", producer).json() == cli
    # a read key sees no email or phone in free text; an unknown order is 404
    assert api.call("GET", "/v1/orders/SO-77", reader).status_code == 200
    assert api.call("GET", "/v1/orders/SO-404", reader).status_code == 404
    assert api.call("GET", "/v1/orders/SO-77", api.key("p2", "produce")).status_code == 404
    status = api.call("GET", "/v1/status", reader).json()
    cli_status = json.loads(run_cli(["status", "--json"], api.env).stdout)
    assert set(status) == set(cli_status) and status["outbox"].keys() == \
        cli_status["outbox"].keys()
    metrics = api.call("GET", "/metrics", reader).text
    assert 'relay_api_requests_total{method="POST",route="/v1/order-events",status="202"}' \
        in metrics
    assert 'relay_notifications{state="pending"}' in metrics
    assert "SO-77" not in metrics and "example.com" not in metrics


def _open_dead_letter(kind: str = "email_change", reason: str = "customer_not_found") -> int:
    from relay import deadletters
    from relay.db import transaction

    with transaction() as tx:
        return deadletters.record(tx, kind=kind, entity_id=uuid.uuid4(), reason=reason,
                                  status_code=404, error="no customer a@example.com")


def test_dead_letters_discard_and_bulk_replay_are_audited_with_the_key_name(start_api):
    api = start_api()
    operator, reader = api.key("oncall-ana", "operate"), api.key("r", "read")
    first, second = _open_dead_letter(), _open_dead_letter()
    listed = api.call("GET", "/v1/dead-letters?task=email_change", reader).json()
    assert listed["count"] == 2 and "a@example.com" not in json.dumps(listed)
    shown = api.call("GET", f"/v1/dead-letters/{first}", reader).json()
    assert shown["id"] == first and shown["state"] == "open"
    assert api.call("GET", "/v1/dead-letters?state=bogus", reader).status_code == 422
    # discard one: audited with the key's name
    r = api.call("POST", f"/v1/dead-letters/{first}/discard", operator,
                 json={"why": "INC-1 test data"})
    assert r.status_code == 200 and r.json()["outcome"] == "discarded"
    events = api.call("GET", f"/v1/dead-letters/{first}", reader).json()["events"]
    assert [(e["action"], e["by"], e["note"]) for e in events] == \
        [("discarded", "oncall-ana", "INC-1 test data")]
    assert api.call("POST", f"/v1/dead-letters/{first}/discard", operator,
                    json={}).status_code == 409
    assert api.call("POST", "/v1/dead-letters/999999/replay", operator,
                    json={}).status_code == 404
    # a filtered bulk replay previews by default and changes nothing
    dry = api.call("POST", "/v1/dead-letters/replay", operator,
                   json={"task": "email_change", "reason": "customer_not_found"}).json()
    assert dry["dry_run"] is True and dry["selected"] == 1 and dry["by"] == "oncall-ana"
    assert dry["counts"] == {"would_replay": 1}
    assert api.call("GET", f"/v1/dead-letters/{second}", reader).json()["state"] == "open"
