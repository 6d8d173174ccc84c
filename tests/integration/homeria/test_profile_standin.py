"""The stand-in's profile endpoint, spoken to with raw HTTP: strict shape (a 422 naming
the field), the contract's idempotency (first processed result kept per key), the
extended GET."""

import json
import time
import uuid

import pytest
import requests

from sync_worker.signing import sign
from tests.support.homeria import SECRET, TOKEN

PROFILES = "/v1/customer-profile-changes"


def body(**overrides):
    doc = {"change_id": str(uuid.uuid4()), "email": "ana@example.com", "brand": "acme",
           "country": "ES", "requested_at": "2026-11-30T10:00:00Z",
           "changes": {"phone": "+34600000123"}}
    doc.update(overrides)
    return doc


def post(homeria, doc, key=None, token=TOKEN):
    raw = json.dumps(doc).encode()
    ts = int(time.time())
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
               "Idempotency-Key": key or doc["change_id"], "Homeria-Timestamp": str(ts),
               "Homeria-Signature": sign(SECRET, ts, raw)}
    return requests.post(homeria.url + PROFILES, data=raw, headers=headers, timeout=5)


def customer(homeria, email="ana@example.com"):
    return requests.get(homeria.url + "/v1/customers", timeout=5,
                        params={"email": email, "brand": "acme", "country": "ES"},
                        headers={"Authorization": f"Bearer {TOKEN}"}).json()


def test_applies_and_the_get_carries_the_profile(homeria):
    address = {"line1": "Rue 1", "line2": None, "city": "Lyon", "postal_code": "69001",
               "country": "FR"}
    response = post(homeria, body(changes={"phone": "+34600000123", "last_name": "Ruiz",
                                           "address": address}))
    assert response.json() == {"status": "applied", "customer_ref": "HC-ANA"}
    assert customer(homeria) == {"customer_ref": "HC-ANA", "email": "ana@example.com",
                                 "phone": "+34600000123", "last_name": "Ruiz",
                                 "address": address}
    post(homeria, body(changes={"last_name": None}))
    assert "last_name" not in customer(homeria)


@pytest.mark.parametrize(("changes", "field"), [
    ({"phone": "600000123"}, "changes.phone"),
    ({"first_name": ""}, "changes.first_name"),
    ({"last_name": "x" * 101}, "changes.last_name"),
    ({"address": {"line1": "Rue 1", "city": "Lyon", "postal_code": "1"}},
     "changes.address.country"),
    ({"nickname": "A"}, "changes.nickname"),
    ({}, "changes"),
])
def test_a_rejected_field_is_named(homeria, changes, field):
    response = post(homeria, body(changes=changes))
    assert (response.status_code, response.json()) == (
        422, {"error": "invalid_payload", "field": field})


def test_a_key_keeps_its_first_404_even_after_the_customer_exists(homeria):
    doc = body(email="new@example.com")
    assert post(homeria, doc).status_code == 404
    homeria.state.seed("acme", "ES", "new@example.com")
    assert post(homeria, doc).json() == {"error": "customer_not_found"}
    # a new key applies it
    assert post(homeria, doc, key=str(uuid.uuid4())).json()["status"] == "applied"


def test_same_key_other_body_is_422_and_a_replay_applies_nothing_twice(homeria):
    doc = body(changes={"first_name": "Ana"})
    assert post(homeria, doc).json()["status"] == "applied"
    assert post(homeria, doc).json() == {"status": "already_applied",
                                         "customer_ref": "HC-ANA"}
    other = dict(doc, changes={"first_name": "Eva"})
    assert post(homeria, other).status_code == 422
    assert len([a for a in homeria.state.applied_changes if a.get("kind") == "profile"]) == 1


def test_unauthorized_is_not_kept_for_the_key(homeria):
    doc = body()
    assert post(homeria, doc, token="wrong").status_code == 401
    assert post(homeria, doc).json()["status"] == "applied"
