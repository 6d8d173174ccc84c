"""Every row of the response table in docs/contracts/homeria.md, and the rows it leaves out."""

import pytest
import requests

from sync_worker.errors import Outcome, classify_exception, classify_response


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
    assert result.synced and not result.retryable and not result.dead_letter


def test_permanent_keeps_homeria_error_as_detail_and_dead_letters():
    result = classify_response(422, {"error": "idempotency_key_reused"})
    assert result.detail == "idempotency_key_reused"
    assert result.dead_letter and not result.retryable


def test_auth_is_never_a_dead_letter_and_opens_the_breaker():
    result = classify_response(401, {"error": "bad_signature"})
    assert result.opens_breaker and result.retryable and not result.dead_letter


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
