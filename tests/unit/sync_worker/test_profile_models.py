"""Profile-change input: phones through libphonenumber, fields kept as set, merging, wire."""

import json
import uuid
from datetime import UTC, datetime

import pytest

from sync_worker.profile_models import e164, merge, wire_body
from sync_worker.profile_service import idempotency_key


@pytest.mark.parametrize(("given", "want"), [
    ("+34600000000", "+34600000000"),
    ("+34 600 00 00 00", "+34600000000"),
    ("+1 (202) 555-0143", "+12025550143"),
])
def test_valid_numbers_are_normalised_to_e164(given, want):
    assert e164(given) == want


@pytest.mark.parametrize("bad", ["600000000", "+34 12", "+999123456789", "+34abc"])
def test_numbers_libphonenumber_rejects_are_refused(bad):
    with pytest.raises(ValueError):
        e164(bad)


def test_merging_keeps_the_latest_value_of_each_field_and_clears():
    assert merge([{"phone": "+34600000001", "first_name": "Ana"}, {"last_name": "Ruiz"},
                  {"phone": None}]) == {"phone": None, "first_name": "Ana",
                                        "last_name": "Ruiz"}


def test_wire_body_is_the_contracts_shape_in_a_fixed_order():
    cid = uuid.UUID(int=1)
    raw = wire_body(cid, "ana@example.com", "acme", "ES",
                    datetime(2026, 11, 30, 10, tzinfo=UTC),
                    {"last_name": "Ruiz", "phone": "+34600000001"})
    doc = json.loads(raw)
    assert list(doc) == ["change_id", "email", "brand", "country", "requested_at", "changes"]
    assert list(doc["changes"]) == ["phone", "last_name"]
    assert doc["requested_at"] == "2026-11-30T10:00:00Z"
    assert raw == wire_body(cid, "ana@example.com", "acme", "ES",
                            datetime(2026, 11, 30, 10, tzinfo=UTC),
                            {"phone": "+34600000001", "last_name": "Ruiz"})


def test_the_first_delivery_goes_under_the_change_id_a_replay_under_its_own_key():
    cid = uuid.uuid4()
    assert idempotency_key(cid, 0) == str(cid)
    assert idempotency_key(cid, 1) == idempotency_key(cid, 1) != idempotency_key(cid, 2)
