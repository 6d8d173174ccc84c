"""A Slack-compatible incoming-webhook stand-in: keeps every post for tests and scripts/run.

Answers like Slack: `200 ok` (text) for a JSON body carrying `text` or `blocks`;
`400 invalid_payload` for a body that is not JSON, `400 no_text` when both are missing.
Any path is accepted (Slack's are /services/T…/B…/…).

In-process: `with serve() as hook: hook.url, hook.state.posts(), hook.state.wait_for(2)`.
Shell: `python -m standins webhook --port 8094`, then
`ONCALL_WEBHOOK_URL=http://127.0.0.1:8094/services/T000/B000/XXXX`. Extra control
endpoints: GET|DELETE /_control/posts.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from standins.httpserver import (
    Response,
    RunningStandIn,
    StandInHandler,
    StandInServer,
    run_standin,
    standin_parser,
)


class WebhookState:
    """Posted messages (decoded JSON), safe across handler threads."""

    def __init__(self) -> None:
        self._posts: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    def add(self, post: dict[str, Any]) -> None:
        with self._cond:
            self._posts.append(post)
            self._cond.notify_all()

    def posts(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._posts)

    def texts(self) -> list[str]:
        return [str(p.get("text", "")) for p in self.posts()]

    def clear(self) -> None:
        with self._cond:
            self._posts.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least `count` posts arrived (or the timeout); return them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._posts) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self._posts)


class WebhookHandler(StandInHandler):
    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
        if method != "POST":
            return Response(405, "invalid_method")
        try:
            doc = json.loads(body or b"")
        except ValueError:
            return Response(400, "invalid_payload")
        if not isinstance(doc, dict):
            return Response(400, "invalid_payload")
        if not doc.get("text") and not doc.get("blocks"):
            return Response(400, "no_text")
        self.server.state.add({"path": path, "received_at": time.time(), **doc})
        return Response(200, "ok")

    def _control(self, method: str, path: str, body: bytes) -> Response:
        state: WebhookState = self.server.state
        if path == "/_control/posts":
            if method == "DELETE":
                state.clear()
                return Response(204)
            return Response(200, state.posts())
        return super()._control(method, path, body)


def serve(port: int = 0, host: str = "127.0.0.1") -> RunningStandIn:
    return RunningStandIn(StandInServer((host, port), WebhookHandler, state=WebhookState()))


def main(argv: list[str] | None = None) -> int:
    parser = standin_parser("webhook", "Slack-compatible on-call webhook stand-in", 8094)
    args = parser.parse_args(argv)
    return run_standin("webhook", args, WebhookHandler, state=WebhookState(),
                       env_prefix="WEBHOOK_STANDIN_")
