import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from sync_worker.payload import EmailChangePayload

CHANGE_ID = uuid.UUID("7d1c9a52-3b0e-4f43-9a51-0c1f5c7e2a10")


def payload(**overrides):
    fields = {"change_id": CHANGE_ID, "current_email": "ana@example.com",
              "new_email": "ana.s@example.com", "brand": "acme", "country": "ES",
              "requested_at": datetime(2026, 11, 23, 10, 0, tzinfo=UTC)}
    fields.update(overrides)
    return EmailChangePayload(**fields)


def test_wire_bytes_are_compact_fixed_order_json_with_utc_z():
    assert payload().to_json_bytes() == (
        b'{"change_id":"7d1c9a52-3b0e-4f43-9a51-0c1f5c7e2a10","current_email":"ana@example.com",'
        b'"new_email":"ana.s@example.com","brand":"acme","country":"ES",'
        b'"requested_at":"2026-11-23T10:00:00Z"}')


def test_same_change_serializes_to_identical_bytes():
    offset = datetime(2026, 11, 23, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    assert payload(requested_at=offset).to_json_bytes() == payload().to_json_bytes()


def test_non_ascii_is_sent_as_utf8():
    body = payload(new_email="añá@example.com").to_json_bytes()
    assert "añá".encode() in body
    assert json.loads(body)["new_email"] == "añá@example.com"


def test_country_and_brand_are_normalized():
    change = payload(country="es", brand="ACME")
    assert (change.country, change.brand) == ("ES", "acme")


@pytest.mark.parametrize("overrides", [
    {"country": "ESP"}, {"current_email": "not-an-email"}, {"brand": ""},
    {"requested_at": datetime(2026, 11, 23, 10, 0)},  # naive: ambiguous
    {"change_id": "nope"}, {"extra": "x"},
])
def test_invalid_payloads_are_rejected(overrides):
    with pytest.raises(ValidationError):
        payload(**overrides)


def test_repr_masks_emails():
    text = repr(payload())
    assert "ana@example.com" not in text and "a***@example.com" in text
