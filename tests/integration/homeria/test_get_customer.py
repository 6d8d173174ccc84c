import pytest

from sync_worker.client import HomeriaClient
from sync_worker.errors import HomeriaAuthError, HomeriaUnavailable
from tests.support.homeria import SECRET


def test_found_case_insensitively(client):
    found = client.get_customer("ANA@example.com", "acme", "FR")
    assert found is not None
    assert (found.customer_ref, found.email) == ("HC-ANA-FR", "ana@example.com")
    assert "ana@" not in repr(found)


def test_missing_is_none(client):
    assert client.get_customer("nobody@example.com", "acme", "ES") is None


def test_follows_applied_changes(client, make_change):
    client.send_change(make_change("ana@example.com", "ana.s@example.com"))
    assert client.get_customer("ana@example.com", "acme", "ES") is None
    assert client.get_customer("ana.s@example.com", "acme", "ES").customer_ref == "HC-ANA"


def test_bad_token_raises_auth_error_not_none(homeria):
    with HomeriaClient(homeria.url, "wrong", SECRET) as bad, pytest.raises(HomeriaAuthError):
        bad.get_customer("ana@example.com", "acme", "ES")


def test_outage_raises_unavailable_not_none(homeria, client):
    homeria.faults.update(error_rate=1.0, error_status=502)
    with pytest.raises(HomeriaUnavailable):
        client.get_customer("ana@example.com", "acme", "ES")
