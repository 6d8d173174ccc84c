"""Pure pieces of the HTTP API: every bad field in one error, scopes, keys, bodies."""

from __future__ import annotations

import pytest

from notifications.bulk import MAX_PROBLEMS, _capped, _parse
from relay.api.routes_produce import _ndjson
from relay.apikeys import PREFIX, Principal, hash_key
from relay.errors import InvalidInput
from sync_worker.models import parse_request


def test_a_validation_error_names_every_bad_field_not_and_n_more():
    with pytest.raises(InvalidInput) as caught:
        parse_request({"customer_id": "", "current_email": "nope", "new_email": "b@x.org",
                       "brand": "zzz", "country": "XX"}, brands=("acme",))
    fields = [f for f, _ in caught.value.errors]
    assert fields == ["customer_id", "current_email", "brand", "country"]
    assert "more problem" not in str(caught.value)
    for field in fields:   # the CLI prints str(exc): each field is named
        assert f"{field}:" in str(caught.value)
    assert caught.value.field == "customer_id"   # the first, as before


def test_prefixed_and_combined_problems_keep_their_order():
    a = InvalidInput("x", "bad", [("x", "bad"), ("y", "worse")]).prefixed("line 2")
    b = InvalidInput("z", "missing").prefixed("line 5")
    both = InvalidInput.combine([a, b])
    assert both.errors == [("line 2: x", "bad"), ("line 2: y", "worse"),
                           ("line 5: z", "missing")]
    assert both.field == "line 2: x"


def test_bulk_validation_reports_every_bad_event_up_to_a_cap():
    items = [(f"line {i}", {"event_id": ""}) for i in range(1, 4)]
    with pytest.raises(Exception) as caught:
        _parse(items, 0, 3)
    error = caught.value.error
    assert {f.split(":")[0] for f, _ in error.errors} == {"line 1", "line 2", "line 3"}
    many = InvalidInput("a", "b", [("a", "b")] * (MAX_PROBLEMS + 5))
    capped = _capped(many)
    assert len(capped.errors) == MAX_PROBLEMS + 1
    assert "not listed" in capped.errors[-1][1]


def test_ndjson_names_every_unparseable_line():
    with pytest.raises(InvalidInput) as caught:
        _ndjson(b'{"a": 1}\n{oops\n\n[1,\n')
    assert [f for f, _ in caught.value.errors] == ["line 2", "line 4"]
    with pytest.raises(InvalidInput):
        _ndjson(b"\n  \n")


@pytest.mark.parametrize(("scope", "needed", "allowed"), [
    ("read", "read", True), ("operate", "read", True), ("operate", "operate", True),
    ("read", "operate", False), ("produce", "read", False), ("operate", "produce", False),
    ("produce", "produce", True), ("read", "produce", False)])
def test_read_is_part_of_operate_and_produce_stands_alone(scope, needed, allowed):
    assert Principal("k", scope).may(needed) is allowed


def test_keys_are_hashed_with_sha256_and_look_like_relay_keys():
    import hashlib

    assert hash_key("relay_abc") == hashlib.sha256(b"relay_abc").digest()
    assert PREFIX == "relay_"
