"""The console in a real browser (Chromium via Playwright) against a real `relay serve`
process, a real sync worker and the Homeria stand-in."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import expect

from relay import deadletters
from relay.db import transaction
from tests.support import run_cli, wait_until
from tests.support.console import shot, sign_in

pytestmark = pytest.mark.e2e


def _open_dead_letter() -> int:
    with transaction() as tx:
        return deadletters.record(tx, kind="email_change", entity_id=uuid.uuid4(),
                                  reason="customer_not_found", status_code=404,
                                  error="HTTP 404 customer_not_found for ana@example.com",
                                  response_excerpt='{"error": "customer_not_found"}',
                                  attempts=1, brand="acme", country="ES")


def _focused(page) -> str:
    return page.evaluate("""() => { const e = document.activeElement;
        return e.tagName + ':' + (e.id || e.textContent.trim()); }""")


def test_keys_are_checked_a_read_key_signs_in_by_keyboard_and_sees_status_figures(
        start_api, page):
    # given a running API with one dead letter and a key of each scope
    api = start_api()
    reader, producer = api.key("support", "read"), api.key("oms", "produce")
    dead = _open_dead_letter()

    # a wrong key and a produce key are refused, each with a reason
    page.goto(api.url + "/")
    assert page.url == api.url + "/sign-in"
    shot(page, "sign-in")
    page.get_by_label("API key").fill("relay_not-a-real-key")
    page.get_by_role("button", name="Sign in").click()
    assert "not valid" in page.get_by_role("alert").inner_text()
    assert page.url == api.url + "/sign-in"
    page.get_by_label("API key").fill(producer)
    page.get_by_role("button", name="Sign in").click()
    assert "needs a read or operate key" in page.get_by_role("alert").inner_text()

    # a read key signs in with the keyboard alone
    page.goto(api.url + "/sign-in")
    expect(page.get_by_label("API key")).to_be_focused()  # autofocus lands after load
    assert _focused(page) == "INPUT:api_key"
    page.keyboard.type(reader)
    page.keyboard.press("Tab")
    assert _focused(page) == "BUTTON:Sign in"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    page.wait_for_url(api.url + "/")
    page.keyboard.press("Tab")
    assert _focused(page) == "A:Skip to content"
    page.keyboard.press("Tab")
    assert _focused(page) == "A:Overview"

    # the session cookie is HttpOnly, SameSite=Strict, and does not hold the key
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert reader not in cookie["value"]

    # the overview shows what `relay status --json` says
    page.wait_for_selector("#dl-open")
    status = json.loads(run_cli(["status", "--json"], api.env).stdout)
    figure = lambda sel: page.locator(sel).get_attribute("data-value")  # noqa: E731
    assert figure("#dl-open") == str(status["dead_letters"]["open"]) == "1"
    for state, n in status["homeria"]["email_changes"].items():
        assert figure(f"#ec-{state}") == str(n)
    for state, n in status["notifications"]["by_state"].items():
        assert figure(f"#ns-{state}") == str(n)
    assert figure("#n-unsent") == str(status["sla"]["unsent"])
    assert figure("#n-late") == str(status["sla"]["late"])
    shot(page, "overview")

    # it refreshes without a reload: a new dead letter appears within a refresh
    _open_dead_letter()
    page.evaluate("window.__same_page = true")
    expect(page.locator("#dl-open")).to_have_attribute("data-value", "2", timeout=12_000)
    assert page.evaluate("window.__same_page") is True

    # a read key sees a dead letter masked, and no Replay or Discard
    page.goto(f"{api.url}/dead-letters/{dead}")
    assert "ana@example.com" not in page.content()
    assert page.get_by_role("button", name="Replay").count() == 0
    assert page.get_by_role("button", name="Discard").count() == 0
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    refused = page.request.post(api.url + "/dead-letters/apply", form={
        "csrf": csrf, "action": "discard", "ids": str(dead), "why": "test"})
    assert refused.status == 403
    assert deadletters.show(dead)["state"] == "open"

    # signing out ends the session
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(api.url + "/sign-in")
    page.goto(api.url + "/")
    assert page.url == api.url + "/sign-in"


def test_operate_key_replays_a_dead_letter_from_the_page_and_homeria_applies_it(
        api_with_sync, homeria, page):
    # given an email change for a customer Homeria does not know: it dies
    api = api_with_sync
    operator, producer = api.key("oncall", "operate"), api.key("admin-tool", "produce")
    r = api.call("POST", "/v1/email-changes", producer, json={
        "customer_id": "C-4242", "current_email": "ghost@example.com",
        "new_email": "ghost.new@example.com", "brand": "acme", "country": "ES",
        "requested_by": "agent-7"})
    assert r.status_code == 202, r.text
    change_id = r.json()["change_id"]
    wait_until(lambda: deadletters.find(), timeout=20, message="the change to die")
    (dead,) = deadletters.find()
    # the customer turns up in Homeria: a replay will now go through
    homeria.state.seed("acme", "ES", "ghost@example.com")

    # when an operator replays it from the page, with a reason
    sign_in(page, api, operator)
    page.get_by_role("link", name="Dead letters").click()
    page.get_by_role("link", name=str(dead["id"])).click()
    assert "customer_not_found (HTTP 404)" in page.locator("main").inner_text()
    shot(page, "dead-letter")
    page.get_by_role("button", name="Replay").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Replay 1 dead letter?"
    page.get_by_label("Reason (kept in the audit trail)").fill("customer now in Homeria")
    page.get_by_role("button", name="Replay 1").click()

    # then the result page follows it to Homeria
    row = page.locator(f"#results tr[data-id='{dead['id']}'] .now")
    row.filter(has_text="delivered (synced)").wait_for(timeout=20_000)
    shot(page, "replay-result")
    applied = [c["new_email"] for c in homeria.state.applied_changes]
    assert applied == ["ghost.new@example.com"]
    shown = deadletters.show(dead["id"])
    assert shown["state"] == "replayed"
    assert [(e["action"], e["by"], e["note"]) for e in shown["events"]] == [
        ("replayed", "oncall", "customer now in Homeria")]

    # the change look-up shows both attempts; trends and the monthly review render
    page.goto(f"{api.url}/email-changes?q=C-4242")
    assert "synced" in page.locator("h2").inner_text()
    assert change_id in page.content()
    page.goto(api.url + "/trends?range=24h")
    page.wait_for_selector("body[data-charts-ready='1']")
    page.wait_for_selector("#chart-rate .main-svg")
    shot(page, "trends")
    page.goto(api.url + "/review")
    assert page.get_by_role("link", name="Download CSV").count() == 1
    shot(page, "review")
