"""The Homeria client reads the proxy / CA-bundle environment once, at construction."""

from __future__ import annotations

from sync_worker.client import HomeriaClient


def _client(url="https://api.homeria.example"):
    return HomeriaClient(url, "token", "secret")


def test_proxy_from_the_environment_is_used(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = _client()
    assert client.session.proxies.get("https") == "http://proxy.internal:3128"
    # resolved once: requests no longer walks the environment on every request
    assert client.session.trust_env is False


def test_no_proxy_is_honoured(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "api.homeria.example")
    assert "https" not in _client().session.proxies


def test_ca_bundle_from_the_environment(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert _client().session.verify == str(bundle)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert _client().session.verify is True
