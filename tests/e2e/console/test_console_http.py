"""The console's rules at the HTTP level, against a real `relay serve` process: sessions,
CSRF, scopes, bulk work through the confirmation, the monthly review's CSV."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import UTC, datetime

import pytest
import requests

from relay import deadletters
from relay.db import transaction
from tests.support import run_cli
from tests.support.events import event

pytestmark = pytest.mark.e2e


def _dead(reason: str, kind: str = "email_change") -> int:
    with transaction() as tx:
        return deadletters.record(tx, kind=kind, entity_id=uuid.uuid4(), reason=reason,
                                  error="boom for ana@example.com", attempts=3,
                                  brand="acme", country="ES")


def _signed_in(url: str, key: str) -> tuple[requests.Session, str]:
    http = requests.Session()
    r = http.post(url + "/sign-in", data={"api_key": key}, headers={"Origin": url},
                  allow_redirects=False)
    assert r.status_code == 303, r.text
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=strict" in r.headers[
        "set-cookie"]
    csrf = re.search(r'name="csrf" value="([^"]+)"', http.get(url + "/").text).group(1)
    return http, csrf


def test_sessions_csrf_and_scopes_guard_every_action(start_api):
    api = start_api()
    operator = api.key("oncall", "operate")
    dead = _dead("customer_not_found")
    http, csrf = _signed_in(api.url, operator)
    form = {"csrf": csrf, "action": "discard", "ids": str(dead), "why": "duplicate"}

    # a missing or wrong CSRF token, or a foreign Origin: refused, nothing changes
    for bad, headers in (({**form, "csrf": "forged"}, {"Origin": api.url}),
                         ({k: v for k, v in form.items() if k != "csrf"}, {}),
                         (form, {"Origin": "http://evil.example"})):
        r = http.post(api.url + "/dead-letters/apply", data=bad, headers=headers)
        assert r.status_code == 403, r.text
    # no reason: refused with a message naming it
    r = http.post(api.url + "/dead-letters/apply", data={**form, "why": " "},
                  headers={"Origin": api.url})
    assert r.status_code == 400 and "Say why" in r.text
    assert deadletters.show(dead)["state"] == "open"

    # JSON without a session is a 401, pages redirect to the sign-in form
    assert requests.get(api.url + "/console/overview.json").status_code == 401
    r = requests.get(api.url + "/dead-letters", allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sign-in"

    # with the token it works, and the audit names the key
    r = http.post(api.url + "/dead-letters/apply", data=form, headers={"Origin": api.url})
    assert r.status_code == 200 and "discarded" in r.text
    assert [(e["action"], e["by"]) for e in deadletters.show(dead)["events"]] == [
        ("discarded", "oncall")]

    # an order look-up: its events, each notification per channel, masked for people
    from notifications import record_order_event

    ev = event("shipped")
    record_order_event(ev)
    page = http.get(api.url + "/orders", params={"order_id": ev["order_id"]})
    assert page.status_code == 200
    assert ev["event_id"] in page.text and "shipped · email" in page.text
    assert "ana@example.com" not in page.text and "+34600000000" not in page.text
    missing = http.get(api.url + "/orders", params={"order_id": "SO-nope"})
    assert "no events for order SO-nope" in missing.text

    # revoking the key ends its console session on the next request
    assert run_cli(["api-keys", "revoke", "oncall"], api.env).returncode == 0
    assert http.get(api.url + "/console/overview.json").status_code == 401


def test_bulk_discard_confirms_the_count_and_the_review_csv_matches_the_cli(start_api):
    api = start_api()
    http, csrf = _signed_in(api.url, api.key("oncall", "operate"))
    chosen = [_dead("email_in_use") for _ in range(3)]
    other = _dead("customer_not_found")

    # the list filters as the CLI does
    listed = http.get(api.url + "/dead-letters", params={"reason": "email_in_use"}).text
    assert all(f"/dead-letters/{i}\"" in listed for i in chosen)
    assert f"/dead-letters/{other}\"" not in listed
    bad = http.get(api.url + "/dead-letters", params={"older_than": "soon"})
    assert bad.status_code == 400 and "older_than" in bad.text

    # the confirmation says how many, before anything happens
    r = http.post(api.url + "/dead-letters/confirm", headers={"Origin": api.url}, data={
        "csrf": csrf, "action": "discard", "reason": "email_in_use"})
    assert r.status_code == 200
    assert "Discard 3 dead letters?" in r.text
    ids = re.search(r'name="ids" value="([^"]+)"', r.text).group(1)
    assert sorted(int(i) for i in ids.split(",")) == sorted(chosen)
    assert all(deadletters.show(i)["state"] == "open" for i in chosen)

    # applying discards each one and reports each outcome; the others stay open
    r = http.post(api.url + "/dead-letters/apply", headers={"Origin": api.url}, data={
        "csrf": csrf, "action": "discard", "ids": ids, "why": "customers merged"})
    assert r.text.count('data-outcome="discarded"') == 3
    assert all(deadletters.show(i)["state"] == "discarded" for i in chosen)
    assert deadletters.show(other)["state"] == "open"
    # a second run finds them already resolved: skipped, not an error
    r = http.post(api.url + "/dead-letters/apply", headers={"Origin": api.url}, data={
        "csrf": csrf, "action": "discard", "ids": ids, "why": "again"})
    assert r.text.count('data-outcome="skipped"') == 3

    # the monthly review and its CSV say what `relay sla report` says
    month = datetime.now(UTC).strftime("%Y-%m")
    cli = json.loads(run_cli(["sla", "report", "--month", month, "--json"], api.env).stdout)
    page = http.get(api.url + "/review", params={"month": month})
    assert page.status_code == 200 and f"Monthly review: {month}" in page.text
    r = http.get(api.url + "/review.csv", params={"month": month})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    overall = next(row for row in rows if row["dimension"] == "overall")
    assert int(overall["events"]) == cli["overall"]["events"]
    bad = http.get(api.url + "/review", params={"month": "2026-13"})
    assert bad.status_code == 400 and "--month" in bad.text
