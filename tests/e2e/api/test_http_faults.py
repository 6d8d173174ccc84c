"""The API when things go wrong: PostgreSQL unreachable mid-life (503 + Retry-After,
nothing written, recovers on its own) and a key over its rate (429 + Retry-After)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pytest

from relay.db import connection
from tests.support import wait_until
from tests.support.api import body
from tests.support.rows import table_count
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.e2e


@pytest.fixture
def pg_proxy(db):
    parts = urlsplit(db)
    proxy = TcpProxy(parts.hostname, parts.port)
    yield proxy, urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    proxy.close()


def test_postgresql_down_answers_503_with_retry_after_and_writes_nothing(start_api, pg_proxy):
    proxy, url = pg_proxy
    api = start_api(DATABASE_URL=url)
    key = api.key("p", "produce")
    assert api.call("POST", "/v1/email-changes", key, json=body(1)).status_code == 202
    # when PostgreSQL goes away under the running API
    proxy.cut()
    down = api.call("POST", "/v1/email-changes", key, json=body(2),
                    headers={"Idempotency-Key": "retry-me"})
    assert down.status_code == 503, down.text
    assert int(down.headers["Retry-After"]) > 0
    assert down.headers["content-type"] == "application/problem+json"
    assert api.call("GET", "/readyz").status_code == 503
    # then nothing of the refused request was written
    assert table_count("email_changes") == 1
    # and once it is back, the client's retry (same Idempotency-Key) goes through
    proxy.restore()

    def retried():
        r = api.call("POST", "/v1/email-changes", key, json=body(2),
                     headers={"Idempotency-Key": "retry-me"})
        return r if r.status_code == 202 else None

    wait_until(retried, timeout=20, interval=0.5, message="the API to recover")
    with connection() as conn:
        ids = conn.execute("SELECT request_id FROM email_changes ORDER BY seq").fetchall()
        conn.commit()
    assert [r["request_id"] for r in ids] == [None, "retry-me"]


def test_a_key_over_its_rate_gets_429_with_retry_after(start_api):
    api = start_api(API_RATE_LIMIT_RPS="3")
    key, other = api.key("busy", "read"), api.key("calm", "read")
    codes = [api.call("GET", "/v1/dead-letters", key) for _ in range(8)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited, [r.status_code for r in codes]
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert limited[0].json()["status"] == 429
    # per key: another key is not affected
    assert api.call("GET", "/v1/dead-letters", other).status_code == 200
