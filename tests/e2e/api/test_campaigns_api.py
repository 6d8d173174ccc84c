"""`/v1/campaigns` on a real `relay serve`: operate keys control campaigns, read keys see
them; a bad audience line is a 422 naming it and writes nothing."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

CAMPAIGN = {"id": "winter", "name": "Winter", "subject": "10 % off",
            "url": "https://shop.example/winter", "brand": "acme"}


def _line(i: int, **changes) -> str:
    doc = {"customer_id": f"C-{i}", "email": f"c{i}@example.com", "channels": ["email"],
           "marketing_opt_in": True, "country": "ES", "locale": "es-ES", **changes}
    return json.dumps(doc)


def test_operate_keys_control_campaigns_and_read_keys_only_see_them(start_api):
    api = start_api()
    operate, read = api.key("ops", "operate"), api.key("viewer", "read")
    # read may not create; operate may, once
    assert api.call("POST", "/v1/campaigns", read, json=CAMPAIGN).status_code == 403
    created = api.call("POST", "/v1/campaigns", operate, json=CAMPAIGN)
    assert created.status_code == 201 and created.json() == {"id": "winter", "state": "created"}
    again = api.call("POST", "/v1/campaigns", operate, json=CAMPAIGN)
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "id"
    ndjson = {"Content-Type": "application/x-ndjson"}
    # a bad line: 422 naming line and field, nothing recorded
    bad = api.call("POST", "/v1/campaigns/winter/start", operate, headers=ndjson,
                   data="\n".join([_line(1), _line(2, email="nope")]))
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"][0]["field"] == "line 2: email"
    assert api.call("GET", "/v1/campaigns/winter", read).json()["audience"] == 0
    # start (no worker runs here), then cancel: every recipient is cancelled
    started = api.call("POST", "/v1/campaigns/winter/start", operate, headers=ndjson,
                       data="\n".join(_line(i) for i in range(5)))
    assert started.status_code == 202 and started.json()["new"] == 5
    assert api.call("POST", "/v1/campaigns/winter/pause", read).status_code == 403
    assert api.call("POST", "/v1/campaigns/winter/pause", operate).status_code == 200
    assert api.call("GET", "/v1/campaigns/winter", read).json()["state"] == "paused"
    cancelled = api.call("POST", "/v1/campaigns/winter/cancel", operate)
    assert cancelled.status_code == 200 and cancelled.json()["cancelled"] == 5
    shown = api.call("GET", "/v1/campaigns/winter", read).json()
    assert shown["recipients"]["cancelled"] == 5 == shown["audience"]
    assert api.call("GET", "/v1/campaigns/nope", read).status_code == 404
    assert api.call("GET", "/v1/campaigns/winter").status_code == 401
