"""A campaign's promotions rendered once (campaigns/compose.py) are the promotions rendered
one by one, recipient for recipient; templates that read per-recipient data are not
cached."""

from __future__ import annotations

import pytest

from notifications import service
from notifications.campaigns import compose
from notifications.models import parse_event


def promotion(i: int, **changes) -> object:
    doc = {"event_id": f"campaign:bf:C-{i}", "type": "promotion",
           "occurred_at": "2026-11-30T12:00:00Z", "brand": "acme", "country": "ES",
           "locale": changes.pop("locale", "es-ES"),
           "customer": {"customer_id": f"C-{i}", "email": f"c{i}@example.com",
                        "channels": ["email"], "marketing_opt_in": True},
           "campaign": {"id": "bf", "name": "Black Friday <30% & more>",
                        "subject": "40% off", "url": "https://shop.example/bf?a=1&b=2"}}
    doc.update(changes)
    return parse_event(doc)


@pytest.fixture(autouse=True)
def fresh_cache():
    compose._cache.clear()
    yield
    compose._cache.clear()


@pytest.mark.parametrize("locale", ["es-ES", "en-GB"])
def test_every_recipient_gets_what_rendering_it_alone_gives(locale):
    for i in range(3):
        event = promotion(i, locale=locale)
        assert compose.compose("email", f"n-{i}", event) == \
            service.compose("email", f"n-{i}", event)
    assert len(compose._cache) == 1   # rendered once for the three


def test_the_default_promotion_templates_are_cacheable():
    assert compose.reads_only_campaign_constants("promotion", "email", "acme", "es-ES")


def test_a_template_reading_recipient_data_is_rendered_per_message(monkeypatch):
    # given templates that read a variable outside the campaign's constants
    monkeypatch.setattr(compose, "CAMPAIGN_CONSTANT",
                        compose.CAMPAIGN_CONSTANT - {"campaign"})
    event = promotion(1)
    assert not compose.reads_only_campaign_constants("promotion", "email", "acme", "es-ES")
    # when composed, then it is the per-message rendering, and nothing is cached for it
    assert compose.compose("email", "n-1", event) == service.compose("email", "n-1", event)
    assert compose._parts("email", event) is None


def test_a_link_not_used_as_an_opaque_string_is_not_cached(monkeypatch):
    # given a rendering in which the link is changed (as a filter could), not printed as is
    real = compose.rendering.render

    def upper_link(event_type, channel, context, brand, locale=None):
        context = {**context, "unsubscribe_url": context["unsubscribe_url"].replace("m=", "M=")}
        return real(event_type, channel, context, brand, locale)

    monkeypatch.setattr(compose.rendering, "render", upper_link)
    assert compose._parts("email", promotion(1)) is None


def test_other_channels_and_order_mail_take_the_per_message_path(monkeypatch):
    calls = []
    monkeypatch.setattr(compose, "compose_one",
                        lambda *args: calls.append(args) or "per-message")
    assert compose.compose("push", "n-1", promotion(1)) == "per-message"
    assert calls and not compose._cache
