"""SMS API stand-in speaking Twilio's Messages REST shape.

`POST /2010-04-01/Accounts/{sid}/Messages.json`, form fields To/From/Body, basic auth
(sid, token). Answers like Twilio: 201 `{"sid": "SM…", "status": "queued", ...}`, or
`{"code": 21211, "message": ..., "status": 400}`. Twilio's own test numbers trigger
the matching errors, so the client's error table is exercised against real codes:

    +15005550001 → 21211 invalid 'To'      +15005550002 → 21612 cannot route
    +15005550003 → 21408 region disabled   +15005550004 → 21610 unsubscribed (STOP)
    +15005550009 → 21614 not a mobile      any non-E.164 'To' → 21211

In-process: `with serve() as sms: sms.url, sms.state.messages(), sms.faults.update(...)`.
Shell: `python -m standins sms --port 8092`. Extra control endpoints: GET|DELETE
/_control/messages, POST /_control/unsubscribe `{"number": "+34…"}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs

from standins.faults import Faults
from standins.httpserver import (
    Response,
    RunningStandIn,
    StandInHandler,
    StandInServer,
    run_standin,
    standin_parser,
)

DEFAULT_SID = "ACdev0000000000000000000000000000"   # = relay.settings dev defaults
DEFAULT_TOKEN = "dev-sms-token"
PATH_RE = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
E164_RE = re.compile(r"^\+[1-9]\d{7,14}$")
SENDER_ID_RE = re.compile(r"^[A-Za-z0-9 ]{1,11}$")  # alphanumeric sender ids
MAGIC_NUMBERS = {
    "+15005550001": (21211, "The 'To' number is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number is not currently reachable via SMS."),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}


@dataclass(frozen=True)
class StoredSms:
    sid: str
    to: str
    from_: str
    body: str
    received_at: float


class SmsState:
    """Credentials, accepted messages and STOP-ed numbers, safe across handler threads."""

    def __init__(self, account_sid: str = DEFAULT_SID, auth_token: str = DEFAULT_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._lock = threading.Lock()
        self._messages: list[StoredSms] = []
        self._unsubscribed: set[str] = set()

    def messages(self, to: str | None = None) -> list[StoredSms]:
        with self._lock:
            return [m for m in self._messages if to is None or m.to == to]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def unsubscribe(self, number: str) -> None:
        with self._lock:
            self._unsubscribed.add(number)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[StoredSms]:
        """Poll until `count` messages are stored (or fail after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages()
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.01)

    def error_for(self, to: str) -> tuple[int, str] | None:
        if not E164_RE.match(to):
            return 21211, f"The 'To' number {to} is not a valid phone number."
        if to in MAGIC_NUMBERS:
            return MAGIC_NUMBERS[to]
        with self._lock:
            if to in self._unsubscribed:
                return 21610, "Attempt to send to unsubscribed recipient"
        return None

    def store(self, to: str, from_: str, body: str) -> StoredSms:
        sms = StoredSms("SM" + uuid.uuid4().hex, to, from_, body, time.time())
        with self._lock:
            self._messages.append(sms)
        return sms


def twilio_error(status: int, code: int, message: str) -> Response:
    return Response(status, {"code": code, "message": message, "status": status,
                             "more_info": f"https://www.twilio.com/docs/errors/{code}"})


class SmsHandler(StandInHandler):
    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
        state: SmsState = self.server.state
        match = PATH_RE.match(path)
        if not match:
            return twilio_error(404, 20404, "The requested resource was not found")
        if method != "POST":
            return twilio_error(405, 20004, "Method not allowed")
        if not self._authorized(state, match.group(1)):
            return twilio_error(401, 20003, "Authenticate")
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        to, from_, text = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not from_:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not (E164_RE.match(from_) or SENDER_ID_RE.match(from_)):
            return twilio_error(400, 21212, f"The 'From' number {from_} is not valid.")
        if not text:
            return twilio_error(400, 21602, "Message body is required.")
        if len(text) > 1600:
            return twilio_error(400, 21617, "The concatenated message body exceeds 1600.")
        error = state.error_for(to)
        if error:
            return twilio_error(400, *error)
        sms = state.store(to, from_, text)
        now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        return Response(201, {
            "sid": sms.sid, "account_sid": state.account_sid, "to": to, "from": from_,
            "body": text, "status": "queued", "direction": "outbound-api",
            "num_segments": str(-(-len(text) // 153) if len(text) > 160 else 1),
            "date_created": now, "date_updated": now, "api_version": "2010-04-01",
            "error_code": None, "error_message": None,
            "uri": f"/2010-04-01/Accounts/{state.account_sid}/Messages/{sms.sid}.json",
        })

    def _authorized(self, state: SmsState, path_sid: str) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == state.account_sid == path_sid and password == state.auth_token

    def _control(self, method: str, path: str, body: bytes) -> Response:
        state: SmsState = self.server.state
        if path == "/_control/messages":
            if method == "DELETE":
                state.clear()
                return Response(204)
            return Response(200, [asdict(m) for m in state.messages()])
        if path == "/_control/unsubscribe" and method == "POST":
            try:
                state.unsubscribe(str(json.loads(body or b"{}")["number"]))
            except (ValueError, KeyError, TypeError) as exc:
                return Response(400, {"error": str(exc)})
            return Response(200, {"ok": True})
        return super()._control(method, path, body)


def serve(port: int = 0, account_sid: str = DEFAULT_SID, auth_token: str = DEFAULT_TOKEN,
          faults: Faults | None = None, host: str = "127.0.0.1") -> RunningStandIn:
    """Start on a background thread; `.state` is the SmsState, `.faults` the shared Faults."""
    state = SmsState(account_sid, auth_token)
    return RunningStandIn(StandInServer((host, port), SmsHandler, faults=faults, state=state))


def main(argv: list[str] | None = None) -> int:
    parser = standin_parser("sms", "Twilio-shaped SMS API stand-in", 8092)
    parser.add_argument("--account-sid", default=os.environ.get("SMS_ACCOUNT_SID", DEFAULT_SID))
    parser.add_argument("--auth-token", default=os.environ.get("SMS_AUTH_TOKEN", DEFAULT_TOKEN))
    args = parser.parse_args(argv)
    return run_standin("sms", args, SmsHandler, state=SmsState(args.account_sid, args.auth_token),
                       env_prefix="SMS_STANDIN_")
