"""Templates: every default renders, resolution order, autoescape, strictness, SMS length."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from notifications.rendering import (
    CHANNEL_PARTS,
    EVENT_TYPES,
    SMS_MAX_CHARS,
    RenderedMessage,
    Renderer,
    RenderError,
    render,
    search_dirs,
)

ORDER_EVENT = {
    "event_id": "oms-77812", "type": "shipped", "order_id": "SO-5531",
    "occurred_at": "2026-11-23T09:12:00Z", "brand": "acme", "country": "ES",
    "locale": "es-ES",
    "customer": {"customer_id": "C-1001", "email": "ana@example.com",
                 "phone": "+34600000000", "push_token": None, "channels": ["email", "sms"],
                 "marketing_opt_in": False},
    "order": {"number": "SO-5531", "items": [{"sku": "X1", "name": "Lamp", "qty": 1}],
              "carrier": "UPS", "tracking_number": "1Z999",
              "tracking_url": "https://track.example/1Z999", "eta": "2026-11-25"},
}
PROMOTION_EVENT = {
    **{k: v for k, v in ORDER_EVENT.items() if k != "order"}, "type": "promotion",
    "campaign": {"id": "bf-26", "name": "Black Friday: 30% off lamps",
                 "subject": "Black Friday starts now", "url": "https://shop.example/bf"},
    "unsubscribe_url": "https://shop.example/unsubscribe/abc",
}


def context_for(event_type: str) -> dict:
    return copy.deepcopy(PROMOTION_EVENT if event_type == "promotion" else ORDER_EVENT)


@pytest.mark.parametrize("channel", sorted(CHANNEL_PARTS))
@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize(("brand", "locale"), [("globex", "en-US"), ("acme", "es-ES")])
def test_every_event_type_renders_on_every_channel(event_type, channel, brand, locale):
    rendered = render(event_type, channel, context_for(event_type), brand, locale)

    assert isinstance(rendered, RenderedMessage)
    assert rendered.body.strip()
    if channel == "email":
        assert rendered.subject and rendered.html and "<html" in rendered.html
        assert "\n" not in rendered.subject
    if channel in ("push", "inapp"):
        assert rendered.title
    if channel == "sms":
        assert len(rendered.body) <= SMS_MAX_CHARS
    if event_type != "promotion":
        assert "SO-5531" in (rendered.subject or rendered.title or "") + rendered.body


def test_shipped_email_carries_the_contract_fields():
    rendered = render("shipped", "email", context_for("shipped"), "globex", "en-GB")

    for text in (rendered.body, rendered.html):
        assert "SO-5531" in text and "UPS" in text and "1Z999" in text
        assert "https://track.example/1Z999" in text and "November 25" in text
        assert "Lamp" in text
    assert rendered.subject == "Your order SO-5531 is on its way"


def test_promotion_email_uses_campaign_and_unsubscribe_link():
    rendered = render("promotion", "email", context_for("promotion"), "acme", "en")

    assert rendered.subject == "Black Friday starts now"
    assert 'href="https://shop.example/unsubscribe/abc"' in rendered.html
    assert "https://shop.example/bf" in rendered.body


def test_acme_spanish_override_wins_for_es_locales():
    for locale in ("es-ES", "es", "es_MX"):
        rendered = render("shipped", "email", context_for("shipped"), "acme", locale)
        assert rendered.subject == "Tu pedido SO-5531 está en camino"
        assert rendered.sources["html"] == "acme/es/shipped.email.html.j2"
        assert "25 de noviembre" in rendered.body


def test_other_languages_and_brands_fall_back_to_default():
    english = render("shipped", "email", context_for("shipped"), "acme", "en-GB")
    globex = render("shipped", "email", context_for("shipped"), "globex", "es-ES")

    assert english.sources["subject"] == "default/shipped.email.txt.j2"
    assert globex.sources["subject"] == "default/shipped.email.txt.j2"
    assert "ACME" in english.html and "border-top:6px" in english.html  # acme/ layout
    assert "border-top:6px" not in globex.html                         # default layout


def test_a_partial_override_falls_back_per_file():
    # acme/es overrides shipped for email/sms/push/inapp and order_confirmed email+sms only
    push = render("order_confirmed", "push", context_for("order_confirmed"), "acme", "es-ES")

    assert push.sources["title"] == "default/order_confirmed.push.txt.j2"


def test_search_dirs_order():
    assert search_dirs("acme", "es-ES") == [
        "acme/es-ES", "acme/es", "acme", "default/es-ES", "default/es", "default"]
    assert search_dirs("acme", None) == ["acme", "default"]
    assert search_dirs("acme", "not a locale!") == ["acme", "default"]
    with pytest.raises(RenderError):
        search_dirs("../etc", "es")


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_resolution_order_level_by_level(tmp_path):
    levels = ["acme/es-ES", "acme/es", "acme", "default/es-ES", "default/es", "default"]
    for level in levels:
        write(tmp_path, f"{level}/delivered.sms.txt.j2",
              f"{{% block body %}}{level}{{% endblock %}}")
    renderer = Renderer(tmp_path)

    seen = []
    for level in levels:
        seen.append(renderer.render("delivered", "sms", {}, "acme", "es-ES").body)
        (tmp_path / level / "delivered.sms.txt.j2").unlink()
        renderer = Renderer(tmp_path)  # a fresh loader cache, as after a deploy

    assert seen == levels


def test_html_is_autoescaped_and_text_is_not():
    context = context_for("shipped")
    context["order"]["items"] = [{"sku": "X", "name": "<script>alert(1)</script>", "qty": 1}]

    rendered = render("shipped", "email", context, "acme", "es-ES")

    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "<script>alert(1)</script>" in rendered.body  # plain text is not HTML


def test_non_http_links_never_reach_an_href():
    context = context_for("shipped")
    context["order"]["tracking_url"] = "javascript:alert(1)"

    rendered = render("shipped", "email", context, "globex", "en")

    assert "javascript:" not in rendered.html
    assert "javascript:" not in rendered.body


def test_a_missing_variable_fails_loudly():
    context = context_for("shipped")
    del context["order"]["carrier"]

    with pytest.raises(RenderError, match="carrier"):
        render("shipped", "sms", context, "globex", "en")


def test_promotion_email_without_unsubscribe_url_fails():
    context = context_for("promotion")
    del context["unsubscribe_url"]

    with pytest.raises(RenderError, match="unsubscribe_url"):
        render("promotion", "email", context, "acme", "en")


def test_unknown_event_type_or_channel_is_refused():
    with pytest.raises(RenderError):
        render("refunded", "email", context_for("shipped"), "acme", "en")
    with pytest.raises(RenderError):
        render("shipped", "fax", context_for("shipped"), "acme", "en")


def test_sms_stays_short_with_long_values():
    context = context_for("shipped")
    context["order"]["carrier"] = "Very Long Carrier Name Logistics International " * 5
    context["order"]["tracking_url"] = "https://track.example/" + "x" * 120

    rendered = render("shipped", "sms", context, "globex", "en")

    assert len(rendered.body) <= SMS_MAX_CHARS
    assert rendered.body.endswith("x" * 120)  # the link survives: the carrier was cut


def test_overlong_sms_is_truncated_as_a_last_resort(tmp_path):
    write(tmp_path, "default/delivered.sms.txt.j2",
          "{% block body %}{{ 'word ' * 200 }}{% endblock %}")

    rendered = Renderer(tmp_path).render("delivered", "sms", {}, "acme", None)

    assert len(rendered.body) == SMS_MAX_CHARS
    assert rendered.body.endswith("…")


def test_missing_template_names_the_file(tmp_path):
    (tmp_path / "default").mkdir()

    with pytest.raises(RenderError, match=r"delivered\.push\.txt\.j2"):
        Renderer(tmp_path).render("delivered", "push", {}, "acme", "es")
