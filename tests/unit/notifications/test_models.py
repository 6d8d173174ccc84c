"""OrderEvent validation: bad input names the field; good input is normalised."""

from __future__ import annotations

import pytest

from notifications.models import EventType, parse_event
from relay.errors import InvalidInput
from tests.support.events import PROMO, SHIPPED, with_change


def test_a_valid_order_event_is_normalised():
    event = parse_event(SHIPPED)
    assert event.type is EventType.SHIPPED
    assert event.country == "ES"
    assert event.customer.channels == ["email", "sms"]
    assert event.occurred_at.utcoffset() is not None


def test_a_promotion_takes_its_order_id_from_nowhere_and_needs_none():
    event = parse_event(PROMO)
    assert event.is_promotion and event.order_id is None


def test_order_id_defaults_to_the_order_number():
    assert parse_event(with_change(SHIPPED, "order_id", ...)).order_id == "SO-1"


@pytest.mark.parametrize(("path", "value", "field"), [
    ("type", "teleported", "type"),
    ("occurred_at", "2026-11-23T09:12:00", "occurred_at"),
    ("occurred_at", "yesterday", "occurred_at"),
    ("brand", "initech", "brand"),
    ("country", "XX", "country"),
    ("locale", "spanish", "locale"),
    ("customer.email", "not-an-email", "customer.email"),
    ("customer.phone", "600000000", "customer.phone"),
    ("customer.channels", ["email", "pigeon"], "customer.channels.1"),
    ("customer.customer_id", ..., "customer.customer_id"),
    ("order", ..., "order"),
    ("order.tracking_url", "javascript:alert(1)", "order.tracking_url"),
    ("event_id", "", "event_id"),
])
def test_bad_order_events_are_rejected_naming_the_field(path, value, field):
    with pytest.raises(InvalidInput) as caught:
        parse_event(with_change(SHIPPED, path, value))
    assert caught.value.field == field


@pytest.mark.parametrize(("path", "value", "field"), [
    ("campaign", ..., "campaign"),
    ("campaign.url", "ftp://x", "campaign.url"),
    ("expires", "2026-12-01", "expires"),
])
def test_bad_promotions_are_rejected_naming_the_field(path, value, field):
    with pytest.raises(InvalidInput) as caught:
        parse_event(with_change(PROMO, path, value))
    assert caught.value.field == field


def test_the_position_prefixes_the_field_for_bulk_input():
    with pytest.raises(InvalidInput, match=r"^line 7: customer.phone: "):
        parse_event(with_change(SHIPPED, "customer.phone", "12"), where="line 7")


def test_a_non_object_is_rejected():
    with pytest.raises(InvalidInput, match="line 2"):
        parse_event(["not", "an", "event"], where="line 2")  # type: ignore[arg-type]
