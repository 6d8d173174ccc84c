"""Sessions: every call has a timeout and follows no redirect unless it says otherwise."""

import json

import requests
from requests.adapters import BaseAdapter

from relay.http_sessions import json_or_none, session


class _Recorder(BaseAdapter):
    def __init__(self):
        super().__init__()
        self.calls = []

    def send(self, request, **kwargs):
        self.calls.append(kwargs)
        response = requests.Response()
        response.status_code, response.request, response.url = 200, request, request.url
        return response

    def close(self):
        pass


def _with_recorder(s):
    recorder = _Recorder()
    s.mount("https://", recorder)
    return recorder


def test_calls_default_to_the_timeout_and_no_redirects():
    s = session(timeout=(1.5, 4.0))
    recorder = _with_recorder(s)
    s.post("https://peer.example/x", data=b"{}")
    s.get("https://peer.example/y", timeout=9)
    assert recorder.calls[0]["timeout"] == (1.5, 4.0)
    assert recorder.calls[1]["timeout"] == 9
    assert s.trust_env is False


def test_a_redirect_is_returned_not_followed():
    s = session(timeout=1)

    class _Redirect(_Recorder):
        def send(self, request, **kwargs):
            response = super().send(request, **kwargs)
            response.status_code, response.headers["Location"] = 307, "https://other.example/"
            return response

    redirect = _Redirect()
    s.mount("https://", redirect)
    assert s.get("https://peer.example/").status_code == 307
    assert len(redirect.calls) == 1


def test_for_url_reads_the_proxy_environment_once(monkeypatch, tmp_path):
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    fixed = session(timeout=1, for_url="https://api.homeria.example")
    bare = session(timeout=1)
    assert fixed.proxies.get("https") == "http://proxy.internal:3128"
    assert fixed.verify == str(bundle)
    assert bare.proxies == {} and bare.verify is True


def _response(body: bytes) -> requests.Response:
    r = requests.Response()
    r._content = body
    return r


def test_json_or_none_keeps_objects_only():
    assert json_or_none(_response(json.dumps({"a": 1}).encode())) == {"a": 1}
    assert json_or_none(_response(b"[1, 2]")) is None
    assert json_or_none(_response(b"<html>")) is None
    assert json_or_none(_response(b"")) is None
