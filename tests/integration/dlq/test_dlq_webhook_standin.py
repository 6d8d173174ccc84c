"""The webhook stand-in answers like Slack's incoming webhooks."""

from __future__ import annotations

import requests

from standins.webhook import serve


def test_webhook_standin_keeps_valid_posts_and_rejects_like_slack():
    with serve() as hook:
        url = f"{hook.url}/services/T000/B000/XXXX"
        ok = requests.post(url, json={"text": "hello"}, timeout=5)
        assert (ok.status_code, ok.text) == (200, "ok")
        assert requests.post(url, data=b"not json", timeout=5).status_code == 400
        empty = requests.post(url, json={"username": "x"}, timeout=5)
        assert (empty.status_code, empty.text) == (400, "no_text")
        assert hook.state.texts() == ["hello"]
        assert requests.get(f"{hook.url}/_control/posts", timeout=5).json()[0]["text"] == (
            "hello")
        requests.delete(f"{hook.url}/_control/posts", timeout=5)
        assert hook.state.posts() == []
