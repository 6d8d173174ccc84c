"""The API key store against real PostgreSQL."""

from __future__ import annotations

import time

import pytest

from relay import apikeys
from relay.db import connection
from relay.errors import InvalidInput, NotFound, RelayError


def test_create_authenticate_list_revoke(db):
    raw = apikeys.create("oms", "produce")
    assert raw.startswith("relay_") and len(raw) >= 6 + 43   # 32 random bytes
    assert apikeys.authenticate(raw) == apikeys.Principal("oms", "produce")
    assert apikeys.authenticate(raw + "x") is None
    assert apikeys.authenticate("") is None
    with connection() as conn:
        row = conn.execute("SELECT key_hash, last_used_at FROM api_keys").fetchone()
        conn.commit()
    assert bytes(row["key_hash"]) == apikeys.hash_key(raw)   # only the hash is stored
    assert row["last_used_at"] is not None
    assert [k["name"] for k in apikeys.list_keys()] == ["oms"]
    assert "key_hash" not in apikeys.list_keys()[0]
    apikeys.revoke("oms")
    assert apikeys.authenticate(raw) is None
    assert apikeys.list_keys()[0]["revoked_at"] is not None


def test_two_keys_never_share_a_value_and_names_are_unique(db):
    assert apikeys.create("a", "read") != apikeys.create("b", "read")
    with pytest.raises(RelayError, match="already exists"):
        apikeys.create("a", "operate")


def test_bad_names_and_scopes_are_refused_and_unknown_keys_cannot_be_revoked(db):
    with pytest.raises(InvalidInput, match="scope"):
        apikeys.create("ok", "admin")
    with pytest.raises(InvalidInput, match="name"):
        apikeys.create("no spaces", "read")
    with pytest.raises(NotFound):
        apikeys.revoke("ghost")
    assert apikeys.list_keys() == []


def test_a_key_revoked_elsewhere_is_refused_once_its_cached_entry_expires(db, monkeypatch):
    # given a key this process has just found valid
    raw = apikeys.create("oms", "produce")
    monkeypatch.setattr(apikeys, "CACHE_SECONDS", 0.3)
    assert apikeys.authenticate(raw) is not None
    # when another process revokes it (not through this process's revoke())
    with connection() as conn:
        conn.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'oms'")
        conn.commit()
    # then it is still remembered for at most CACHE_SECONDS, and refused after
    assert apikeys.authenticate(raw) is not None
    time.sleep(0.35)
    assert apikeys.authenticate(raw) is None
