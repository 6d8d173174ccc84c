"""Producer input validation: every bad field is named, emails are normalised."""

import pytest

from relay.errors import InvalidInput
from sync_worker.models import parse_request

BRANDS = ("acme", "globex")
GOOD = {"customer_id": "C-1001", "current_email": "ana@example.com",
        "new_email": "ana.s@example.com", "brand": "acme", "country": "ES",
        "requested_by": "agent-17", "request_id": "ticket-884"}


def test_valid_input_is_normalised():
    req = parse_request({**GOOD, "brand": " ACME ", "country": "es",
                         "current_email": " Ana@Example.COM "}, brands=BRANDS)
    assert (req.brand, req.country, req.current_email) == ("acme", "ES", "Ana@example.com")


def test_blank_optional_fields_are_none():
    req = parse_request({**GOOD, "requested_by": " ", "request_id": ""}, brands=BRANDS)
    assert req.requested_by is None and req.request_id is None


@pytest.mark.parametrize(("field", "value"), [
    ("current_email", "not-an-email"),
    ("current_email", "ana@@example.com"),
    ("current_email", "ana@example"),
    ("new_email", "ana s@example.com"),
    ("new_email", "x" * 250 + "@example.com"),
    ("new_email", "ANA@example.com"),          # same as current, case-insensitively
    ("country", "XX"),
    ("country", "ESP"),
    ("country", ""),
    ("brand", "initech"),
    ("customer_id", ""),
    ("customer_id", "C" * 65),
    ("customer_id", "C-\x01-1"),
    ("request_id", "r" * 129),
    ("requested_by", "agent\x00"),
    ("extra", "x"),
])
def test_each_bad_field_is_named(field, value):
    with pytest.raises(InvalidInput) as caught:
        parse_request({**GOOD, field: value}, brands=BRANDS)
    assert caught.value.field == field


def test_messages_do_not_echo_the_email():
    with pytest.raises(InvalidInput) as caught:
        parse_request({**GOOD, "new_email": "secret-person@@example.com"}, brands=BRANDS)
    assert "secret-person" not in str(caught.value)
