"""HomeriaClient against the real stand-in: one test per row of the contract."""

import time
import uuid

import pytest

from standins.httpserver import Response, StandInHandler, serve_in_thread
from sync_worker.client import HomeriaClient
from sync_worker.errors import Outcome
from tests.support import wait_until

from .conftest import SECRET, TOKEN


def test_happy_path_applies_the_change(homeria, client, make_change):
    result = client.send_change(make_change("ana@example.com", "ana.s@example.com"))
    assert (result.outcome, result.reason, result.status_code) == (Outcome.SYNCED, "applied", 200)
    assert result.customer_ref == "HC-ANA"
    assert result.latency_ms > 0
    assert homeria.state.lookup("acme", "ES", "ana.s@example.com").customer_ref == "HC-ANA"
    assert homeria.state.lookup("acme", "ES", "ana@example.com") is None
    assert homeria.state.lookup("acme", "FR", "ana@example.com") is not None  # other market


def test_request_carries_contract_headers_and_signs_the_exact_bytes(homeria, client,
                                                                    make_change):
    import hashlib
    import hmac

    change = make_change("ana@example.com", "ana.s@example.com")
    client.send_change(change)
    [request] = homeria.requests("/v1/")
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert request.body == change.to_json_bytes()
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["idempotency-key"] == str(change.change_id)
    assert abs(int(headers["homeria-timestamp"]) - time.time()) < 5
    expected = hmac.new(SECRET.encode(), headers["homeria-timestamp"].encode() + b"." +
                        request.body, hashlib.sha256).hexdigest()
    assert headers["homeria-signature"] == f"v1={expected}"


def test_replay_of_the_same_key_is_already_applied_and_applied_once(homeria, client,
                                                                    make_change):
    change = make_change("ana@example.com", "ana.s@example.com")
    first = client.send_change(change)
    again = client.send_change(change)
    assert (again.outcome, again.reason) == (Outcome.SYNCED, "already_applied")
    assert again.customer_ref == first.customer_ref
    assert len(homeria.state.applied_changes) == 1


def test_replay_after_later_changes_does_not_undo_them(homeria, client, make_change):
    a_to_b = make_change("ana@example.com", "b@example.com")
    client.send_change(a_to_b)
    client.send_change(make_change("b@example.com", "c@example.com"))
    assert client.send_change(a_to_b).reason == "already_applied"
    assert homeria.state.lookup("acme", "ES", "c@example.com").customer_ref == "HC-ANA"
    assert len(homeria.state.applied_changes) == 2


def test_holding_new_email_already_is_already_applied(client, make_change):
    result = client.send_change(make_change("gone@example.com", "ANA@example.com"))
    assert (result.outcome, result.reason, result.customer_ref) == (
        Outcome.SYNCED, "already_applied", "HC-ANA")


def test_same_key_different_body_is_permanent(homeria, client, make_change):
    change_id = uuid.uuid4()
    client.send_change(make_change("ana@example.com", "ana.s@example.com", change_id=change_id))
    result = client.send_change(make_change("ana@example.com", "other@example.com",
                                            change_id=change_id))
    assert (result.outcome, result.reason, result.status_code) == (
        Outcome.PERMANENT, "invalid_payload", 422)
    assert result.detail == "idempotency_key_reused"
    assert len(homeria.state.applied_changes) == 1


def test_unknown_customer_is_permanent_not_found(client, make_change):
    result = client.send_change(make_change("nobody@example.com", "x@example.com"))
    assert (result.outcome, result.reason, result.status_code) == (
        Outcome.PERMANENT, "customer_not_found", 404)


def test_new_email_of_another_customer_is_permanent_email_in_use(homeria, client, make_change):
    result = client.send_change(make_change("ana@example.com", "Bo@Example.com"))
    assert (result.outcome, result.reason, result.status_code) == (
        Outcome.PERMANENT, "email_in_use", 409)
    assert homeria.state.applied_changes == []


def test_ordering_a_to_b_then_b_to_c_applies_in_order(homeria, client, make_change):
    assert client.send_change(make_change("ana@example.com", "b@example.com")).synced
    assert client.send_change(make_change("b@example.com", "c@example.com")).synced
    assert [c["new_email"] for c in homeria.state.applied_changes] == [
        "b@example.com", "c@example.com"]


def test_ordering_b_to_c_first_is_not_found(homeria, client, make_change):
    result = client.send_change(make_change("b@example.com", "c@example.com"))
    assert result.reason == "customer_not_found"
    assert client.send_change(make_change("ana@example.com", "b@example.com")).synced
    assert homeria.state.lookup("acme", "ES", "b@example.com") is not None


def test_bad_token_is_auth(homeria, make_change):
    with HomeriaClient(homeria.url, "wrong", SECRET) as bad:
        result = bad.send_change(make_change("ana@example.com", "ana.s@example.com"))
    assert (result.outcome, result.reason, result.status_code) == (
        Outcome.AUTH, "unauthorized", 401)
    assert result.opens_breaker and not result.dead_letter
    assert homeria.state.applied_changes == []


def test_token_rotation_then_fix(homeria, client, make_change):
    change = make_change("ana@example.com", "ana.s@example.com")
    homeria.state.api_token = "rotated"
    assert client.send_change(change).outcome is Outcome.AUTH
    with HomeriaClient(homeria.url, "rotated", SECRET) as fixed:
        assert fixed.send_change(change).reason == "applied"


def test_bad_signature_is_auth(homeria, make_change):
    with HomeriaClient(homeria.url, TOKEN, "wrong-secret") as bad:
        result = bad.send_change(make_change("ana@example.com", "ana.s@example.com"))
    assert (result.outcome, result.reason) == (Outcome.AUTH, "bad_signature")


@pytest.mark.parametrize("skew", [-301, 301])
def test_stale_timestamp_is_auth(homeria, make_change, skew):
    with HomeriaClient(homeria.url, TOKEN, SECRET, clock=lambda: time.time() + skew) as skewed:
        result = skewed.send_change(make_change("ana@example.com", "ana.s@example.com"))
    assert (result.outcome, result.reason) == (Outcome.AUTH, "stale_timestamp")


def test_clock_skew_within_the_window_is_accepted(homeria, make_change):
    with HomeriaClient(homeria.url, TOKEN, SECRET, clock=lambda: time.time() - 250) as skewed:
        assert skewed.send_change(make_change("ana@example.com", "ana.s@example.com")).synced


def test_429_burst_is_rate_limited_with_retry_after(homeria, client, make_change):
    homeria.faults.update(burst_429=2, retry_after=7)
    change = make_change("ana@example.com", "ana.s@example.com")
    limited = [client.send_change(change) for _ in range(2)]
    assert [(r.outcome, r.status_code, r.retry_after) for r in limited] == [
        (Outcome.RATE_LIMITED, 429, 7.0)] * 2
    assert client.send_change(change).reason == "applied"


def test_injected_5xx_is_transient(homeria, client, make_change):
    homeria.faults.update(error_rate=1.0, error_status=503)
    result = client.send_change(make_change("ana@example.com", "ana.s@example.com"))
    assert (result.outcome, result.reason, result.status_code) == (
        Outcome.TRANSIENT, "server_error", 503)
    assert homeria.state.applied_changes == []


def test_outage_is_transient_without_hanging(homeria, make_change):
    homeria.faults.update(outage_seconds=60)
    change = make_change("ana@example.com", "ana.s@example.com")
    with HomeriaClient(homeria.url, TOKEN, SECRET, timeout=(0.5, 1.0)) as short:
        started = time.monotonic()
        result = short.send_change(change)
        assert time.monotonic() - started < 3
        assert (result.outcome, result.status_code) == (Outcome.TRANSIENT, None)
        assert result.reason in {"connection_error", "timeout"}
        homeria.faults.update(outage_seconds=0)
        assert short.send_change(change).reason == "applied"   # the pool recovers


def test_connection_refused_is_transient(make_change):
    with serve_in_thread(StandInHandler) as gone:
        url = gone.url
    with HomeriaClient(url, TOKEN, SECRET, timeout=(0.5, 0.5)) as client:
        result = client.send_change(make_change("ana@example.com", "ana.s@example.com"))
    assert (result.outcome, result.reason) == (Outcome.TRANSIENT, "connection_error")


def test_read_timeout_is_transient_and_the_retry_is_safe(homeria, make_change):
    homeria.faults.update(latency_ms=800)
    change = make_change("ana@example.com", "ana.s@example.com")
    with HomeriaClient(homeria.url, TOKEN, SECRET, timeout=(0.5, 0.2)) as short:
        result = short.send_change(change)
    assert (result.outcome, result.reason) == (Outcome.TRANSIENT, "timeout")
    # Homeria applied it anyway after we gave up: the retry must not apply it twice.
    wait_until(lambda: len(homeria.state.applied_changes) == 1, timeout=5,
               message="the timed-out request to be applied")
    homeria.faults.update(latency_ms=0)
    with HomeriaClient(homeria.url, TOKEN, SECRET) as retry:
        assert retry.send_change(change).reason == "already_applied"
    assert len(homeria.state.applied_changes) == 1


class _Redirector(StandInHandler):
    def route(self, method, path, query, body):
        return Response(307, None, {"Location": self.server.state + path})


def test_redirect_is_not_followed(homeria, make_change):
    with serve_in_thread(_Redirector, state=homeria.url) as redirector, \
            HomeriaClient(redirector.url, TOKEN, SECRET) as client:
        result = client.send_change(make_change("ana@example.com", "ana.s@example.com"))
    assert (result.outcome, result.reason, result.status_code) == (
        Outcome.TRANSIENT, "unexpected_status", 307)
    assert homeria.requests("/v1/") == []


@pytest.mark.parametrize("url", ["http://api.homeria.example", "http://10.0.0.5:8091",
                                 "ftp://127.0.0.1", "api.homeria.example"])
def test_plain_http_is_refused_except_for_loopback(url):
    with pytest.raises(ValueError):
        HomeriaClient(url, TOKEN, SECRET)


@pytest.mark.parametrize("url", ["https://api.homeria.example", "http://127.0.0.1:8091",
                                 "http://localhost:8091", "http://[::1]:8091"])
def test_https_and_loopback_http_are_accepted(url):
    HomeriaClient(url, TOKEN, SECRET).close()
