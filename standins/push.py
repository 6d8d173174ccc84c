"""Push stand-in speaking FCM HTTP v1's shape.

`POST /v1/projects/{project}/messages:send` with `Authorization: Bearer <token>` and
`{"message": {"token", "notification": {"title", "body"}, "data": {str: str}}}`.
200 `{"name": "projects/{project}/messages/{id}"}` when accepted; errors in FCM's
`{"error": {"code", "message", "status", "details": [...]}}` form:

- tokens starting with "dead-", or killed via `state.kill(token)`: 404 NOT_FOUND with
  errorCode UNREGISTERED (the app was uninstalled: drop the token);
- malformed tokens (blank, whitespace, starting with "bad-"): 400 INVALID_ARGUMENT with a
  fieldViolation on `message.token`;
- `strict=True`: only tokens registered with `state.register(token)` are known; others
  answer UNREGISTERED.

In-process: `with serve() as push: push.url, push.state.messages(), push.faults.update(...)`.
Shell: `python -m standins push --port 8093`. Extra control endpoints: GET|DELETE
/_control/messages, POST /_control/tokens `{"register": [...], "kill": [...]}`.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from standins.faults import Faults
from standins.httpserver import (
    Response,
    RunningStandIn,
    StandInHandler,
    StandInServer,
    run_standin,
    standin_parser,
)

DEFAULT_PROJECT = "relay-dev"        # = relay.settings dev defaults
DEFAULT_TOKEN = "dev-push-token"
PATH_RE = re.compile(r"^/v1/projects/([^/]+)/messages:send$")
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


@dataclass(frozen=True)
class StoredPush:
    name: str
    token: str
    title: str | None
    body: str | None
    data: dict[str, str] = field(default_factory=dict)
    received_at: float = 0.0


class PushState:
    """Credentials, the device-token registry and accepted messages (thread-safe)."""

    def __init__(self, project_id: str = DEFAULT_PROJECT, api_token: str = DEFAULT_TOKEN,
                 strict: bool = False) -> None:
        self.project_id = project_id
        self.api_token = api_token
        self.strict = strict
        self._lock = threading.Lock()
        self._messages: list[StoredPush] = []
        self._known: set[str] = set()
        self._dead: set[str] = set()

    def register(self, token: str) -> None:
        with self._lock:
            self._known.add(token)
            self._dead.discard(token)

    def kill(self, token: str) -> None:
        with self._lock:
            self._dead.add(token)

    def is_dead(self, token: str) -> bool:
        with self._lock:
            if token.startswith("dead-") or token in self._dead:
                return True
            return self.strict and token not in self._known

    def messages(self, token: str | None = None) -> list[StoredPush]:
        with self._lock:
            return [m for m in self._messages if token is None or m.token == token]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def store(self, token: str, notification: dict, data: dict[str, str]) -> StoredPush:
        name = f"projects/{self.project_id}/messages/{uuid.uuid4().hex[:16]}"
        push = StoredPush(name, token, notification.get("title"), notification.get("body"),
                          data, time.time())
        with self._lock:
            self._messages.append(push)
        return push


def fcm_error(status: int, grpc_status: str, message: str,
              error_code: str | None = None, field_name: str | None = None) -> Response:
    details: list[dict[str, Any]] = []
    if error_code:
        details.append({"@type": FCM_ERROR, "errorCode": error_code})
    if field_name:
        details.append({"@type": BAD_REQUEST,
                        "fieldViolations": [{"field": field_name, "description": message}]})
    return Response(status, {"error": {"code": status, "message": message,
                                       "status": grpc_status, "details": details}})


def invalid(field_name: str, message: str) -> Response:
    return fcm_error(400, "INVALID_ARGUMENT", message, "INVALID_ARGUMENT", field_name)


class PushHandler(StandInHandler):
    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
        state: PushState = self.server.state
        match = PATH_RE.match(path)
        if not match or method != "POST":
            return fcm_error(404, "NOT_FOUND", "Requested entity was not found.")
        if self.headers.get("Authorization") != f"Bearer {state.api_token}":
            return fcm_error(401, "UNAUTHENTICATED",
                             "Request had invalid authentication credentials.")
        if match.group(1) != state.project_id:
            return fcm_error(403, "PERMISSION_DENIED", "Permission denied on the project.")
        try:
            message = json.loads(body or b"null")["message"]
            if not isinstance(message, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return invalid("message", "Request contains an invalid argument.")
        token = message.get("token")
        notification = message.get("notification") or {}
        data = message.get("data") or {}
        if not isinstance(token, str) or not token.strip() or token.startswith("bad-") \
                or any(c.isspace() for c in token):
            return invalid("message.token", "The registration token is not a valid FCM "
                                            "registration token")
        if not isinstance(notification, dict) or not all(
                isinstance(notification.get(k, ""), str) for k in ("title", "body")):
            return invalid("message.notification", "Invalid notification payload.")
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return invalid("message.data", "Invalid value in data: values must be strings.")
        if state.is_dead(token):
            return fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        return Response(200, {"name": state.store(token, notification, data).name})

    def _control(self, method: str, path: str, body: bytes) -> Response:
        state: PushState = self.server.state
        if path == "/_control/messages":
            if method == "DELETE":
                state.clear()
                return Response(204)
            return Response(200, [asdict(m) for m in state.messages()])
        if path == "/_control/tokens" and method == "POST":
            try:
                doc = json.loads(body or b"{}")
                for token in doc.get("register", []):
                    state.register(str(token))
                for token in doc.get("kill", []):
                    state.kill(str(token))
            except (ValueError, TypeError, AttributeError) as exc:
                return Response(400, {"error": str(exc)})
            return Response(200, {"ok": True})
        return super()._control(method, path, body)


def serve(port: int = 0, project_id: str = DEFAULT_PROJECT, api_token: str = DEFAULT_TOKEN,
          faults: Faults | None = None, strict: bool = False,
          host: str = "127.0.0.1") -> RunningStandIn:
    """Start on a background thread; `.state` is the PushState, `.faults` the shared Faults."""
    state = PushState(project_id, api_token, strict)
    return RunningStandIn(StandInServer((host, port), PushHandler, faults=faults, state=state))


def main(argv: list[str] | None = None) -> int:
    parser = standin_parser("push", "FCM HTTP v1-shaped push stand-in", 8093)
    parser.add_argument("--project-id", default=os.environ.get("PUSH_PROJECT_ID",
                                                               DEFAULT_PROJECT))
    parser.add_argument("--api-token", default=os.environ.get("PUSH_API_TOKEN", DEFAULT_TOKEN))
    parser.add_argument("--strict", action="store_true",
                        help="only tokens registered via /_control/tokens are known")
    args = parser.parse_args(argv)
    state = PushState(args.project_id, args.api_token, args.strict)
    return run_standin("push", args, PushHandler, state=state, env_prefix="PUSH_STANDIN_")
