"""Campaign documents and audience lines: bad input names the field (and the line); a good
line becomes the same promotion event a producer would send; the stored payload is rebuilt
without validation into the event the templates see."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifications import planning, policy
from notifications.campaigns.models import parse_spec, recipient_event
from notifications.campaigns.sending import _event
from notifications.campaigns.throttle import capacity
from relay.errors import InvalidInput

SPEC = {"id": "spring", "name": "Spring", "subject": "20 % off",
        "url": "https://shop.example/spring", "brand": "ACME",
        "expires": "2026-12-01T00:00:00Z", "max_per_second": 50}
LINE = {"customer_id": "C-1", "email": "ana@example.com", "channels": ["email", "push"],
        "push_token": "tok", "marketing_opt_in": True, "country": "es", "locale": "es-ES"}
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("change", "field"), [
    ({"id": "a:b"}, "id"), ({"brand": "nope"}, "brand"), ({"url": "ftp://x"}, "url"),
    ({"max_per_second": 0}, "max_per_second"), ({"expires": "2026-12-01"}, "expires"),
    ({"subject": ""}, "subject")])
def test_a_bad_campaign_document_names_the_field(change, field):
    with pytest.raises(InvalidInput) as caught:
        parse_spec({**SPEC, **change})
    assert caught.value.field == field


@pytest.mark.parametrize(("change", "field"), [
    ({"email": "not-an-email"}, "line 7: email"), ({"country": "XX"}, "line 7: country"),
    ({"locale": "spanish"}, "line 7: locale"), ({"channels": ["fax"]}, "line 7: channels.0"),
    ({"customer_id": ""}, "line 7: customer_id"), ({"phone": "123"}, "line 7: phone")])
def test_a_bad_audience_line_names_the_line_and_its_own_field(change, field):
    with pytest.raises(InvalidInput) as caught:
        recipient_event(parse_spec(SPEC), {**LINE, **change}, NOW, "line 7")
    assert caught.value.field == field


def test_an_unknown_field_in_an_audience_line_is_refused_by_name():
    # a misspelt opt-in would otherwise be dropped and the customer silently suppressed
    with pytest.raises(InvalidInput) as caught:
        recipient_event(parse_spec(SPEC), {**LINE, "marketing_optin": True, "zip": "1"},
                        NOW, "line 4")
    assert caught.value.field == "line 4: marketing_optin"
    assert "'marketing_optin', 'zip'" in caught.value.message
    assert "marketing_opt_in" in caught.value.message


def test_a_missing_country_is_named():
    line = {k: v for k, v in LINE.items() if k != "country"}
    with pytest.raises(InvalidInput, match="line 2: country"):
        recipient_event(parse_spec(SPEC), line, NOW, "line 2")


def test_a_line_becomes_the_promotion_event_and_is_planned_like_one():
    event = recipient_event(parse_spec(SPEC), LINE, NOW, "line 1")
    assert (event.event_id, event.type.value, event.brand, event.country) == (
        "campaign:spring:C-1", "promotion", "acme", "ES")
    assert event.campaign.subject == "20 % off" and event.expires.isoformat().startswith("2026-12")
    assert [(p.channel, p.state) for p in planning.plan(event, NOW)] == [
        ("email", "pending"), ("push", "standby")]
    opted_out = recipient_event(parse_spec(SPEC), {**LINE, "marketing_opt_in": False}, NOW, "l")
    assert {p.reason for p in planning.plan(opted_out, NOW)} == {"opted_out"}


def test_the_stored_payload_is_rebuilt_into_the_same_event():
    event = recipient_event(parse_spec(SPEC), LINE, NOW, "line 1")
    rebuilt = _event(event.model_dump(mode="json"))
    assert rebuilt.template_context() == event.template_context()
    assert rebuilt.is_promotion and rebuilt.customer.email == "ana@example.com"


def test_quiet_countries_are_those_whose_local_time_is_in_the_window(monkeypatch):
    monkeypatch.setenv("PROMO_QUIET_HOURS", "21-8")
    monkeypatch.setattr(policy, "_quiet_cache", (0.0, None, []))
    quiet = policy.quiet_countries(NOW)   # 12:00 UTC: night in Japan, noon in Spain
    assert "JP" in quiet and "ES" not in quiet


def test_a_bucket_call_asks_for_at_most_one_second_of_tokens():
    assert [capacity(r) for r in (0.5, 1, 40, 2000.7)] == [1, 1, 40, 2000]
