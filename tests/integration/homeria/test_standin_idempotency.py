"""The stand-in keeps the first *processed* result of each Idempotency-Key, as the contract
(clarified 2026-11-30) says the real Homeria does — not just its 200s."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from standins.faults import Faults
from standins.homeria import KEY_TTL_SECONDS, HomeriaState

from .test_standin_contract import post, valid_body


def _answer(response):
    return response.status_code, response.json()


def test_a_404_is_kept_under_its_key_after_the_customer_exists(homeria):
    # given a change for a customer Homeria does not know: 404 under key K
    doc = valid_body(current_email="late@example.com", new_email="late.new@example.com")
    assert _answer(post(homeria, doc)) == (404, {"error": "customer_not_found"})
    # when the customer is created and the same request is sent again under K
    homeria.state.seed("acme", "ES", "late@example.com", "HC-LATE")
    # then Homeria answers the kept 404 and applies nothing
    assert _answer(post(homeria, doc)) == (404, {"error": "customer_not_found"})
    assert homeria.state.applied_changes == []
    # and under a new key the same change is processed afresh and applied
    fresh = str(uuid.uuid4())
    assert _answer(post(homeria, doc, key=fresh)) == (
        200, {"status": "applied", "customer_ref": "HC-LATE"})
    (applied,) = homeria.state.applied_changes
    assert (applied["change_id"], applied["idempotency_key"]) == (doc["change_id"], fresh)


def test_a_409_and_a_422_are_kept_too(homeria):
    taken = valid_body(new_email="bo@example.com")
    assert post(homeria, taken).status_code == 409
    # bo moves on: the address is free now, but the key keeps its 409
    assert post(homeria, valid_body(current_email="bo@example.com",
                                    new_email="bo.n@example.com")).status_code == 200
    assert _answer(post(homeria, taken)) == (409, {"error": "email_in_use"})
    bad = valid_body(country="XX")
    assert post(homeria, bad).status_code == 422
    assert _answer(post(homeria, bad)) == (422, {"error": "invalid_payload", "field": "country"})
    # the key's body is fixed by its first request: a corrected body needs a new key
    fixed = {**bad, "country": "ES"}
    assert _answer(post(homeria, fixed, key=bad["change_id"])) == (
        422, {"error": "idempotency_key_reused"})
    assert post(homeria, fixed, key=str(uuid.uuid4())).status_code == 200


def test_a_kept_200_replays_as_already_applied_and_applies_nothing_twice(homeria):
    doc = valid_body()
    assert post(homeria, doc).json() == {"status": "applied", "customer_ref": "HC-ANA"}
    homeria.state.seed("acme", "ES", "ana@example.com", "HC-ANA-2")  # ana again, another ref
    assert post(homeria, doc).json() == {"status": "already_applied", "customer_ref": "HC-ANA"}
    assert homeria.state.applied_by_change() == {doc["change_id"]: 1}
    other = valid_body(new_email="ana.t@example.com", change_id=doc["change_id"])
    assert _answer(post(homeria, other)) == (422, {"error": "idempotency_key_reused"})


@pytest.mark.parametrize("fault", [
    {"error_rate": 1.0, "error_status": 503},
    {"error_rate": 1.0, "error_status": 500},
    {"burst_429": 1},
    {"outage_seconds": 30},
])
def test_results_it_did_not_process_are_not_kept(homeria, fault):
    doc = valid_body()
    homeria.faults.update(**fault)
    with pytest.raises(requests.ConnectionError) if "outage_seconds" in fault else _noop():
        assert post(homeria, doc).status_code in {429, 500, 503}
    homeria.faults.reset()
    assert post(homeria, doc).json()["status"] == "applied"


def test_a_401_is_not_kept(homeria):
    doc = valid_body()
    assert post(homeria, doc, token="wrong").status_code == 401
    assert post(homeria, doc).json()["status"] == "applied"


def test_a_lost_response_was_applied_and_its_key_answers_the_kept_200(homeria):
    # given Homeria applies, keeps the result, then drops the connection
    homeria.faults.update(drop_after_apply_rate=1.0)
    doc = valid_body()
    with pytest.raises(requests.ConnectionError):
        post(homeria, doc)
    assert homeria.state.applied_by_change() == {doc["change_id"]: 1}
    (logged,) = homeria.requests("/v1/")
    assert logged.dropped and logged.status == 200
    # when the caller repeats the request under the same key
    homeria.faults.update(drop_after_apply_rate=0)
    # then it hears the kept 200 and nothing is applied twice
    assert post(homeria, doc).json() == {"status": "already_applied", "customer_ref": "HC-ANA"}
    assert homeria.state.applied_by_change() == {doc["change_id"]: 1}


def test_kept_results_expire_after_30_days():
    now = [1_000_000.0]
    state = HomeriaState(clock=lambda: now[0])
    state.seed("acme", "ES", "ana@example.com", "HC-ANA")
    doc = valid_body(current_email="zed@example.com")
    assert state.apply("k1", doc)[0] == 404
    state.seed("acme", "ES", "zed@example.com", "HC-ZED")
    now[0] += KEY_TTL_SECONDS - 1
    assert state.apply("k1", doc)[0] == 404
    now[0] += 2
    assert state.apply("k1", doc) == (200, {"status": "applied", "customer_ref": "HC-ZED"})


def test_control_endpoints_show_the_applied_record_and_the_kept_keys(homeria):
    first, second = valid_body(), valid_body(current_email="bo@example.com",
                                             new_email="bo.n@example.com")
    post(homeria, first)
    post(homeria, second)
    post(homeria, valid_body(current_email="nobody@example.com", new_email="no@example.com"))
    control = homeria.url + "/_control"
    applied = requests.get(control + "/applied", timeout=5).json()
    assert [(a["applied_seq"], a["customer_ref"], a["idempotency_key"]) for a in applied] == [
        (1, "HC-ANA", first["change_id"]), (2, "HC-BO", second["change_id"])]
    only_bo = requests.get(control + "/applied", params={"customer_ref": "HC-BO"},
                           timeout=5).json()
    assert [a["change_id"] for a in only_bo] == [second["change_id"]]
    kept = requests.get(control + "/keys", timeout=5).json()
    assert sorted(v["status"] for v in kept.values()) == [200, 200, 404]
    one = requests.get(control + "/keys", params={"key": first["change_id"]}, timeout=5).json()
    assert one[first["change_id"]]["body"] == {"status": "applied", "customer_ref": "HC-ANA"}


def test_drop_after_apply_rate_is_a_fault_setting_checked_for_range(homeria):
    control = homeria.url + "/_control/faults"
    assert requests.post(control, json={"drop_after_apply_rate": 0.25},
                         timeout=5).json()["drop_after_apply_rate"] == 0.25
    assert requests.post(control, json={"drop_after_apply_rate": 2}, timeout=5).status_code \
        == 400
    with pytest.raises(ValueError, match="between 0 and 1"):
        Faults().update(drop_after_apply_rate=-0.1)
    homeria.faults.reset()
    assert homeria.faults.drop_after_apply_rate == 0.0


def test_cli_reads_standin_drop_after_apply_rate_from_the_environment():
    env = {**os.environ, "STANDIN_DROP_AFTER_APPLY_RATE": "0.3",
           "HOMERIA_STANDIN_ERROR_RATE": "0.1"}
    banner = _banner(env)
    assert (banner["faults"]["drop_after_apply_rate"], banner["faults"]["error_rate"]) == (
        0.3, 0.1)
    bad = subprocess.run(
        [sys.executable, "-m", "standins", "homeria", "--port", "0"],
        env={**os.environ, "STANDIN_DROP_AFTER_APPLY_RATE": "lots"}, capture_output=True,
        text=True, timeout=30, cwd=_ROOT)
    assert bad.returncode != 0 and "STANDIN_DROP_AFTER_APPLY_RATE" in bad.stderr


_ROOT = Path(__file__).resolve().parents[3]


def _banner(env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "standins", "homeria", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True, cwd=_ROOT)
    try:
        return json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class _noop:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
