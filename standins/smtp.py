"""SMTP sink stand-in: a real SMTP server on loopback that keeps what it receives.

Plain sessions are served by the lean server in smtp_server.py (PIPELINING, cheap per
message); with TLS or AUTH, by aiosmtpd. Why a real server: the email channel's reply
mapping, keep-alive reconnects, STARTTLS and AUTH are only proven against a peer that
speaks SMTP. Fault injection reuses `Faults` (as `SmtpFaults`, whose `error_status` is
an SMTP code), applied at the end of DATA:

    error_rate / error_status   answer that code (default 451 → transient; 550 → permanent)
    burst_429                   the next N messages get "421 try again later"
    latency_ms (+ jitter)       delay the final reply (client timeouts)
    outage_seconds              drop the connection instead of answering

and per recipient, at RCPT: an address containing "bounce" → 550, "invalid" → 553,
"defer" → 451 (`recipient_rules`, changeable).

TLS: `starttls=True` generates a throwaway self-signed certificate (the `openssl` command
must exist) for 127.0.0.1/localhost; clients trust it through `sink.client_tls_context()`.
`implicit_tls=True` does the same for smtps://. AUTH PLAIN/LOGIN when `auth=(user, pw)`.

In-process: `with serve() as sink: sink.port, sink.messages(), sink.wait_for(1)`.
Shell: `python -m standins smtp --port 8025 --http-port 8026`; the HTTP side serves
GET|DELETE /_control/messages plus httpserver's /_control/faults (changing SMTP faults).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
import warnings
import weakref
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from standins.faults import Faults, faults_from_args
from standins.httpserver import (
    Response,
    RunningStandIn,
    StandInHandler,
    StandInServer,
    standin_parser,
)

# aiosmtpd 1.4 sets the deprecated attribute itself on every successful AUTH.
warnings.filterwarnings("ignore", message="Session.login_data is deprecated")

DEFAULT_RECIPIENT_RULES = {
    "bounce": "550 5.1.1 Mailbox unavailable",
    "invalid": "553 5.1.3 Mailbox name not allowed",
    "defer": "451 4.2.0 Mailbox temporarily unavailable, try again later",
}


@dataclass
class SmtpFaults(Faults):
    """`Faults` with SMTP reply codes: `error_status` defaults to 451 (try again later)."""

    error_status: int = 451

    def reset(self) -> None:
        super().reset()
        self.update(error_status=451)


@dataclass
class ReceivedMessage:
    queue_id: str
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    peer: Any = None
    auth_user: str | None = None
    tls: bool = False
    received_at: float = field(default_factory=time.time)

    @functools.cached_property
    def message(self) -> EmailMessage:
        """Parsed on first use: parsing every message as it arrived cost the sink ~1 ms of
        CPU each, which at a campaign's rate competed with the system under test."""
        return BytesParser(policy=policy.default).parsebytes(self.data)  # type: ignore[return-value]

    def part(self, subtype: str) -> str | None:
        body = self.message.get_body(preferencelist=(subtype,))
        return None if body is None else body.get_content()

    def as_dict(self) -> dict[str, Any]:
        return {"queue_id": self.queue_id, "mail_from": self.mail_from,
                "rcpt_tos": self.rcpt_tos, "headers": dict(self.message.items()),
                "text": self.part("plain"), "html": self.part("html"),
                "auth_user": self.auth_user, "tls": self.tls, "received_at": self.received_at}


def new_queue_id() -> str:
    return uuid.uuid4().hex[:12].upper()


class SinkHandler:
    """What the sink decides, for either server: recipient rules at RCPT, faults and
    storage at DATA (aiosmtpd's hooks below; smtp_server.py calls the same methods)."""

    def __init__(self, faults: SmtpFaults, recipient_rules: dict[str, str]) -> None:
        self.faults = faults
        self.recipient_rules = recipient_rules
        self.connections = 0
        self.live: weakref.WeakSet = weakref.WeakSet()  # open sessions, to drop on demand
        self._lock = threading.Lock()
        self._messages: list[ReceivedMessage] = []

    def opened(self, server) -> None:
        """A client said EHLO/HELO on a new session (counted once, kept to drop later)."""
        if not getattr(server, "_relay_counted", False):  # EHLO repeats after STARTTLS
            server._relay_counted = True
            with self._lock:
                self.connections += 1
                self.live.add(server)

    def rcpt_reply(self, address: str) -> str | None:
        """The refusal for a recipient matching a rule, or None to accept it."""
        lowered = address.lower()
        for marker, reply in self.recipient_rules.items():
            if marker in lowered:
                return reply
        return None

    def data_reply(self, decision, received: ReceivedMessage) -> str:
        """The final reply to DATA after the fault decision (its delay already waited;
        `drop` is the caller's): an injected failure, or the message kept."""
        if decision.status == 429:
            return "421 4.7.0 Too many messages, try again later"
        if decision.status is not None:
            kind = "4.3.0 Temporary" if decision.status < 500 else "5.3.0 Permanent"
            return f"{decision.status} {kind} failure (injected)"
        with self._lock:
            self._messages.append(received)
        return f"250 2.0.0 Ok: queued as {received.queue_id}"

    # -- aiosmtpd hooks (the TLS/AUTH server) -------------------------------------------
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.opened(server)
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self.rcpt_reply(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        decision = self.faults.decide()
        if decision.delay_s:
            await asyncio.sleep(decision.delay_s)
        if decision.drop:
            server.transport.abort()
            return "421 4.4.2 Connection dropped"  # never reaches the client
        received = ReceivedMessage(
            queue_id=new_queue_id(), mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos), data=envelope.original_content or envelope.content,
            peer=session.peer, tls=server.transport.get_extra_info("ssl_object") is not None,
            auth_user=login.login.decode() if isinstance(login := session.auth_data,
                                                         LoginPassword) else None)
        return self.data_reply(decision, received)

    def messages(self, to: str | None = None) -> list[ReceivedMessage]:
        with self._lock:
            return [m for m in self._messages if to is None or to in m.rcpt_tos]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


class _Controller(Controller):
    """aiosmtpd's Controller, able to listen on port 0 (learns the port before its probe)."""

    def _trigger_server(self):
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    def factory(self):
        # Plain AUTH on loopback is intended (TLS only when asked for): no warning per session.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
            return super().factory()


def self_signed_certificate(directory: str) -> tuple[str, str]:
    """(cert, key) for localhost/127.0.0.1, valid two days. Needs the openssl command."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30)
    return cert, key


class SmtpSink:
    """A running sink: `host`, `port`, `messages()`, `wait_for()`, `faults`, `stop()`."""

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1",
                 auth: tuple[str, str] | None = None, starttls: bool = False,
                 implicit_tls: bool = False, faults: SmtpFaults | None = None,
                 recipient_rules: dict[str, str] | None = None,
                 http_port: int | None = None) -> None:
        self.host = host
        self.auth = auth
        self.faults = faults or SmtpFaults()
        rules = DEFAULT_RECIPIENT_RULES if recipient_rules is None else recipient_rules
        self.handler = SinkHandler(self.faults, dict(rules))
        self.cert_path: str | None = None
        self._tmp: str | None = None
        self.controller: Any = None
        if not (auth or starttls or implicit_tls):   # the lean server (smtp_server.py)
            from standins.smtp_server import LeanServer

            self.controller = LeanServer(self.handler, host, port)
        else:
            self._start_aiosmtpd(host, port, auth, starttls, implicit_tls)
        self.port: int = self.controller.port
        self.http: RunningStandIn | None = None
        if http_port is not None:
            self.http = RunningStandIn(StandInServer((host, http_port), SinkHttpHandler,
                                                     faults=self.faults, state=self))

    def _start_aiosmtpd(self, host: str, port: int, auth, starttls: bool,
                        implicit_tls: bool) -> None:
        """TLS and AUTH: aiosmtpd, a complete server, where speed does not matter."""
        server_tls = self._tls_context() if (starttls or implicit_tls) else None
        smtp_kwargs: dict[str, Any] = {"server_hostname": "relay-smtp-sink", "ident": "relay sink"}
        if starttls:
            smtp_kwargs["tls_context"] = server_tls
        if auth:
            smtp_kwargs.update(authenticator=self._authenticate, auth_required=True,
                               auth_require_tls=starttls or implicit_tls)
        self.controller = _Controller(self.handler, hostname=host, port=port,
                                      ssl_context=server_tls if implicit_tls else None,
                                      **smtp_kwargs)
        self.controller.start()

    def _tls_context(self) -> ssl.SSLContext:
        self._tmp = tempfile.mkdtemp(prefix="relay-smtp-sink-")
        self.cert_path, key = self_signed_certificate(self._tmp)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, key)
        return context

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self.auth == (
                auth_data.login.decode(), auth_data.password.decode()):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def client_tls_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this sink's self-signed certificate."""
        return ssl.create_default_context(cafile=self.cert_path)

    @property
    def http_url(self) -> str | None:
        return self.http.url if self.http else None

    @property
    def connections(self) -> int:
        """SMTP sessions that said EHLO: shows whether clients keep connections alive."""
        return self.handler.connections

    def messages(self, to: str | None = None) -> list[ReceivedMessage]:
        return self.handler.messages(to)

    def drop_connections(self) -> int:
        """Close every open session, as a server's idle timeout would. Returns how many."""
        async def close_all() -> int:
            with self.handler._lock:
                servers = [s for s in self.handler.live if s.transport is not None]
            for server in servers:
                server.transport.close()
            await asyncio.sleep(0)  # let the loop actually close the sockets
            return len(servers)
        loop = self.controller.loop
        return asyncio.run_coroutine_threadsafe(close_all(), loop).result(timeout=5)

    def clear(self) -> None:
        self.handler.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Poll until `count` messages arrived or `timeout` passed; returns what is there."""
        deadline = time.monotonic() + timeout
        while len(self.messages()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.messages()

    def stop(self) -> None:
        if self.http:
            self.http.stop()
        self.controller.stop()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> SmtpSink:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class SinkHttpHandler(StandInHandler):
    """Read side for a sink run as a subprocess; faults via httpserver's /_control/faults."""

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
        return Response(404, {"error": "see /_control/messages"})

    def _control(self, method: str, path: str, body: bytes) -> Response:
        sink: SmtpSink = self.server.state
        if path == "/_control/messages/count":   # cheap, for benchmarks
            return Response(200, {"count": len(sink.messages())})
        if path == "/_control/messages":
            if method == "DELETE":
                sink.clear()
                return Response(204)
            return Response(200, [m.as_dict() for m in sink.messages()])
        return super()._control(method, path, body)


def serve(port: int = 0, **kwargs: Any) -> SmtpSink:
    """Start a sink on loopback (port 0: any free port). Keyword args as `SmtpSink`."""
    return SmtpSink(port, **kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = standin_parser("smtp", "SMTP sink with fault injection", 8025)
    parser.add_argument("--http-port", type=int, help="serve /_control/messages on this port")
    parser.add_argument("--auth", help="user:password to require AUTH")
    parser.add_argument("--starttls", action="store_true", help="self-signed STARTTLS")
    args = parser.parse_args(argv)
    faults = faults_from_args(args, prefix="SMTP_STANDIN_", cls=SmtpFaults)
    auth = tuple(args.auth.split(":", 1)) if args.auth else None
    sink = SmtpSink(args.port, host=args.host, auth=auth, starttls=args.starttls,  # type: ignore[arg-type]
                    faults=faults, http_port=args.http_port)
    print(json.dumps({"standin": "smtp", "smtp": f"{args.host}:{sink.port}",
                      "http": sink.http_url, "cert": sink.cert_path,
                      "faults": faults.snapshot()}), flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    sink.stop()
    return 0
