"""Profile changes (produce) and privacy erase/export (operate) over HTTP."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_profile_changes_and_privacy_requests_over_http(start_api):
    api = start_api()
    produce, read, operate = (api.key("p", "produce"), api.key("r", "read"),
                              api.key("o", "operate"))
    body = {"customer_id": "C-1", "email": "ana@example.com", "brand": "acme",
            "country": "ES", "changes": {"phone": "+34600000123", "last_name": "Ruiz"}}
    # a produce key submits a profile change; a repeat of its Idempotency-Key is the same
    first = api.call("POST", "/v1/profile-changes", produce, json=body,
                     headers={"Idempotency-Key": "t-1"})
    assert first.status_code == 202, first.text
    again = api.call("POST", "/v1/profile-changes", produce, json=body,
                     headers={"Idempotency-Key": "t-1"})
    assert again.json()["change_id"] == first.json()["change_id"] and again.json()["duplicate"]
    bad = api.call("POST", "/v1/profile-changes", produce,
                   json={**body, "changes": {"phone": "98765"}})
    assert bad.status_code == 422 and "changes.phone" in bad.text and "98765" not in bad.text
    shown = api.call("GET", f"/v1/profile-changes/{first.json()['change_id']}", produce)
    assert shown.status_code == 200 and shown.json()["fields"] == ["last_name", "phone"]
    # privacy requests need an operate key
    who = {"customer_id": "C-1", "brand": "acme", "country": "ES"}
    assert api.call("GET", "/v1/privacy/export", read, params=who).status_code == 403
    exported = api.call("GET", "/v1/privacy/export", operate, params=who)
    assert exported.status_code == 200
    assert exported.json()["profile_changes"][0]["changes"]["phone"] == "+34600000123"
    # the change is still pending (no worker runs): the erasure keeps it and says so
    erased = api.call("POST", "/v1/privacy/erasures", operate, json={**who, "why": "DSR-7"})
    assert erased.status_code == 409 and erased.json()["kept_open"] == 1
    assert api.call("POST", "/v1/privacy/erasures", produce, json=who).status_code == 403
