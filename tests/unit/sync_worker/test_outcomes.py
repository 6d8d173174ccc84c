"""Every row of the response table in docs/contracts/homeria.md, and the rows it leaves out."""

import pytest
import requests

from sync_worker.errors import (
    HomeriaAuthError,
    HomeriaRejected,
    HomeriaUnavailable,
    Outcome,
    classify_exception,
    classify_response,
    error_for,
)


@pytest.mark.parametrize(("status", "body", "outcome", "reason"), [
    (200, {"status": "applied", "customer_ref": "HC-1"}, Outcome.SYNCED, "applied"),
    (200, {"status": "already_applied", "customer_ref": "HC-1"}, Outcome.SYNCED,
     "already_applied"),
    (400, {"error": "invalid_json"}, Outcome.PERMANENT, "invalid_payload"),
    (422, {"error": "invalid_payload"}, Outcome.PERMANENT, "invalid_payload"),
    (422, {"error": "idempotency_key_reused"}, Outcome.PERMANENT, "invalid_payload"),
    (401, {"error": "unauthorized"}, Outcome.AUTH, "unauthorized"),
    (401, {"error": "bad_signature"}, Outcome.AUTH, "bad_signature"),
    (401, {"error": "stale_timestamp"}, Outcome.AUTH, "stale_timestamp"),
    (403, {"error": "unauthorized"}, Outcome.AUTH, "unauthorized"),
    (403, None, Outcome.AUTH, "forbidden"),
    (401, "<html>", Outcome.AUTH, "unauthorized"),
    (404, {"error": "customer_not_found"}, Outcome.PERMANENT, "customer_not_found"),
    (409, {"error": "email_in_use"}, Outcome.PERMANENT, "email_in_use"),
    (429, None, Outcome.RATE_LIMITED, "rate_limited"),
    (500, None, Outcome.TRANSIENT, "server_error"),
    (502, "<html>bad gateway</html>", Outcome.TRANSIENT, "server_error"),
    (503, {"error": "injected_fault"}, Outcome.TRANSIENT, "server_error"),
    (504, None, Outcome.TRANSIENT, "server_error"),
])
def test_contract_table_rows(status, body, outcome, reason):
    result = classify_response(status, body, {})
    assert (result.outcome, result.reason) == (outcome, reason)


def test_synced_carries_the_customer_ref():
    result = classify_response(200, {"status": "applied", "customer_ref": "HC-7"})
    assert result.customer_ref == "HC-7"
    assert result.outcome is Outcome.SYNCED


def test_permanent_keeps_homeria_error_as_detail():
    result = classify_response(422, {"error": "idempotency_key_reused"})
    assert result.detail == "idempotency_key_reused"
    assert result.outcome is Outcome.PERMANENT


def test_bad_signature_is_auth_not_permanent():
    result = classify_response(401, {"error": "bad_signature"})
    assert result.outcome is Outcome.AUTH


@pytest.mark.parametrize(("status", "body", "reason"), [
    (200, {"status": "queued"}, "unexpected_response"),
    (200, None, "unexpected_response"),
    (301, None, "unexpected_status"),
    (307, None, "unexpected_status"),
    (404, None, "unexpected_not_found"),        # a gateway 404 says nothing about the change
    (404, {"error": "not_found"}, "unexpected_not_found"),
    (408, None, "unexpected_status"),
])
def test_statuses_outside_the_table_are_transient(status, body, reason):
    result = classify_response(status, body, {})
    assert (result.outcome, result.reason) == (Outcome.TRANSIENT, reason)


def test_429_parses_retry_after_case_insensitively():
    result = classify_response(429, None, {"retry-after": "12"})
    assert result.retry_after == 12.0


def test_429_without_retry_after_has_none():
    assert classify_response(429, None, {}).retry_after is None


@pytest.mark.parametrize(("exc", "reason"), [
    (requests.ReadTimeout("read"), "timeout"),
    (requests.ConnectTimeout("connect"), "timeout"),
    (requests.ConnectionError("reset"), "connection_error"),
    (requests.exceptions.SSLError("cert"), "tls_error"),
    (requests.exceptions.ChunkedEncodingError("cut"), "request_error"),
])
def test_no_response_is_transient(exc, reason):
    result = classify_exception(exc)
    assert (result.outcome, result.reason) == (Outcome.TRANSIENT, reason)


@pytest.mark.parametrize(("status", "body", "kind"), [
    (401, {"error": "bad_signature"}, HomeriaAuthError),
    (404, {"error": "customer_not_found"}, HomeriaRejected),
    (429, None, HomeriaUnavailable),
    (503, None, HomeriaUnavailable),
])
def test_what_the_client_raises_carries_the_classification(status, body, kind):
    verdict = classify_response(status, body, {"Retry-After": "4"})
    error = error_for(verdict, status, latency_ms=12.5)
    assert type(error) is kind
    assert (error.outcome, error.reason, error.detail, error.status_code, error.latency_ms) \
        == (verdict.outcome, verdict.reason, verdict.detail, status, 12.5)
    assert error.retry_after == (4.0 if status == 429 else None)
