"""The stand-in itself, spoken to with raw HTTP: it must reject what real Homeria would."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from sync_worker.signing import sign

from .conftest import SECRET, TOKEN

CHANGES = "/v1/customer-email-changes"


def valid_body(**overrides):
    doc = {"change_id": str(uuid.uuid4()), "current_email": "ana@example.com",
           "new_email": "ana.s@example.com", "brand": "acme", "country": "ES",
           "requested_at": "2026-11-23T10:00:00Z"}
    doc.update(overrides)
    return doc


def post(homeria, doc=None, raw=None, key=None, headers=None, token=TOKEN, ts=None):
    body = raw if raw is not None else json.dumps(doc).encode()
    ts = int(time.time()) if ts is None else ts
    sent = {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
            "Idempotency-Key": key if key is not None else (doc or {}).get("change_id", ""),
            "Homeria-Timestamp": str(ts), "Homeria-Signature": sign(SECRET, ts, body)}
    sent.update(headers or {})
    return requests.post(homeria.url + CHANGES, data=body, headers=sent, timeout=5)


def test_valid_raw_request_is_applied(homeria):
    response = post(homeria, valid_body())
    assert response.status_code == 200
    assert response.json() == {"status": "applied", "customer_ref": "HC-ANA"}


def test_missing_authorization_is_unauthorized(homeria):
    response = post(homeria, valid_body(), headers={"Authorization": ""})
    assert (response.status_code, response.json()) == (401, {"error": "unauthorized"})


def test_signature_over_other_bytes_is_rejected(homeria):
    doc = valid_body()
    ts = int(time.time())
    reformatted = sign(SECRET, ts, json.dumps(doc, indent=2).encode())
    response = post(homeria, doc, ts=ts, headers={"Homeria-Signature": reformatted})
    assert (response.status_code, response.json()) == (401, {"error": "bad_signature"})


def test_missing_timestamp_is_rejected(homeria):
    response = post(homeria, valid_body(), headers={"Homeria-Timestamp": ""})
    assert response.status_code == 401


@pytest.mark.parametrize(("raw", "headers", "error"), [
    (b"{not json", {}, "invalid_json"),
    (b"[1, 2]", {}, "invalid_json"),
    (b"\xff\xfe", {}, "invalid_json"),
    (None, {"Content-Type": "text/plain"}, "unsupported_content_type"),
    (None, {"Idempotency-Key": ""}, "missing_idempotency_key"),
])
def test_malformed_requests_are_400(homeria, raw, headers, error):
    doc = valid_body()
    key = doc["change_id"] if "Idempotency-Key" not in headers else headers["Idempotency-Key"]
    response = post(homeria, doc, raw=raw, key=key, headers=headers)
    assert (response.status_code, response.json()["error"]) == (400, error)


@pytest.mark.parametrize(("overrides", "field"), [
    ({"country": "es"}, "country"),
    ({"country": "XX"}, "country"),
    ({"brand": ""}, "brand"),
    ({"new_email": "not-an-email"}, "new_email"),
    ({"requested_at": "2026-11-23T10:00:00"}, "requested_at"),   # no zone
    ({"requested_at": 1700000000}, "requested_at"),
    ({"change_id": "123"}, "change_id"),
    ({"customer_id": "C-1"}, "customer_id"),
])
def test_invalid_fields_are_422_naming_the_field(homeria, overrides, field):
    doc = valid_body(**overrides)
    response = post(homeria, doc, key=str(uuid.uuid4()) if field == "change_id" else None)
    assert response.status_code == 422
    assert response.json() == {"error": "invalid_payload", "field": field}


def test_missing_field_is_422(homeria):
    doc = valid_body()
    del doc["brand"]
    assert post(homeria, doc).json() == {"error": "invalid_payload", "field": "brand"}


def test_any_key_is_its_own_key_whatever_the_change_id(homeria):
    # relay delivers a change again under a fresh key (contract: Idempotency)
    doc = valid_body()
    response = post(homeria, doc, key=str(uuid.uuid4()))
    assert (response.status_code, response.json()["status"]) == (200, "applied")
    assert post(homeria, doc, key="x" * 256).json() == {"error": "idempotency_key_too_long"}


def test_same_body_reformatted_under_the_same_key_is_a_replay(homeria):
    doc = valid_body()
    post(homeria, doc)
    response = post(homeria, raw=json.dumps(doc, indent=1, sort_keys=True).encode(),
                    key=doc["change_id"])
    assert response.json()["status"] == "already_applied"


def test_get_customer_requires_authorization(homeria):
    url = homeria.url + "/v1/customers"
    params = {"email": "ana@example.com", "brand": "acme", "country": "ES"}
    assert requests.get(url, params=params, timeout=5).status_code == 401
    missing = requests.get(url, params={"email": "ana@example.com"}, timeout=5,
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert missing.status_code == 400


def test_control_endpoints_seed_list_applied_and_reset(homeria):
    control = homeria.url + "/_control"
    seeded = requests.post(control + "/seed", timeout=5, json=[
        {"brand": "globex", "country": "DE", "email": "zed@example.com"}]).json()
    assert seeded[0]["customer_ref"] and seeded[0]["country"] == "DE"
    assert len(requests.get(control + "/customers", timeout=5).json()) == 4
    post(homeria, valid_body())
    assert [c["new_email"] for c in requests.get(control + "/applied", timeout=5).json()] == [
        "ana.s@example.com"]
    assert requests.post(control + "/seed", timeout=5, json=[{"brand": "x"}]).status_code == 400
    assert requests.get(control + "/faults", timeout=5).json()["error_rate"] == 0.0
    requests.delete(control + "/customers", timeout=5)
    assert homeria.state.customers() == []


def test_control_credentials_rotate_the_token(homeria):
    requests.post(homeria.url + "/_control/credentials", json={"api_token": "new"}, timeout=5)
    assert post(homeria, valid_body()).status_code == 401
    assert post(homeria, valid_body(), token="new").status_code == 200


def test_seed_rejects_a_duplicate_customer_ref(homeria):
    with pytest.raises(ValueError):
        homeria.state.seed("globex", "ES", "new@example.com", customer_ref="HC-ANA")


def test_cli_starts_seeded_and_prints_shape_without_emails(tmp_path):
    env = {**os.environ, "HOMERIA_API_TOKEN": "cli-token", "HOMERIA_STANDIN_LATENCY_MS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "standins", "homeria", "--port", "0", "--seed-demo"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
        cwd=Path(__file__).resolve().parents[3])
    try:
        banner = json.loads(proc.stdout.readline())
        assert banner["seeded"] == {"acme": {"ES": 10, "FR": 10}, "globex": {"ES": 10, "FR": 10}}
        assert banner["faults"]["latency_ms"] == 1.0
        assert "@" not in json.dumps(banner)
        found = requests.get(banner["url"] + "/v1/customers", timeout=5,
                             headers={"Authorization": "Bearer cli-token"},
                             params={"email": "customer3@example.com", "brand": "globex",
                                     "country": "FR"})
        assert found.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
