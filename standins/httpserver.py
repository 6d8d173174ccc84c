"""A small threaded HTTP server base for the stand-ins.

Subclasses of `StandInHandler` implement `route(method, path, query, body) -> Response`.
The base applies fault injection before routing, keeps a request log, and serves the
control endpoints every stand-in shares:

    GET  /_control/health              -> {"ok": true}
    GET  /_control/requests            -> the request log (method, path, status, headers, body)
    DELETE /_control/requests          -> clear it
    GET  /_control/faults              -> current fault settings
    POST /_control/faults  {...}       -> change them (e.g. {"error_rate": 0.2,
                                          "drop_after_apply_rate": 0.1})

A request picked by `drop_after_apply_rate` is routed (the stand-in does the work and
keeps whatever it keeps) and then the connection is closed without an answer; the
request log marks it `dropped`.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from relay.logs import configure_logging
from standins.faults import Faults, add_fault_arguments, faults_from_args


@dataclass
class Response:
    status: int
    body: Any = None                 # dict/list -> JSON; str/bytes -> as is
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class LoggedRequest:
    at: float
    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: bytes
    latency_ms: float
    dropped: bool = False            # handled, then the connection closed unanswered

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def as_dict(self) -> dict:
        try:
            body: Any = self.json()
        except ValueError:
            body = self.body.decode("utf-8", "replace")
        return {"at": self.at, "method": self.method, "path": self.path, "status": self.status,
                "headers": self.headers, "body": body, "latency_ms": self.latency_ms,
                "dropped": self.dropped}


class StandInServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address, handler_cls, faults: Faults | None = None, state: Any = None):
        super().__init__(address, handler_cls)
        self.faults = faults or Faults()
        self.state = state
        self.log: list[LoggedRequest] = []
        self.log_lock = threading.Lock()
        self.log_limit = 100_000

    def record(self, entry: LoggedRequest) -> None:
        with self.log_lock:
            self.log.append(entry)
            if len(self.log) > self.log_limit:
                del self.log[: len(self.log) - self.log_limit]

    def requests(self, path_prefix: str = "") -> list[LoggedRequest]:
        with self.log_lock:
            return [r for r in self.log if r.path.startswith(path_prefix)]

    def clear_requests(self) -> None:
        with self.log_lock:
            self.log.clear()


class StandInHandler(BaseHTTPRequestHandler):
    server: StandInServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the body waits for the
    # client's delayed ACK (~40 ms per request on keep-alive connections).
    disable_nagle_algorithm = True
    quiet = True

    def log_message(self, format, *args):
        if not self.quiet:
            super().log_message(format, *args)

    # -- to implement -------------------------------------------------------------
    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
        raise NotImplementedError

    # -- plumbing -----------------------------------------------------------------
    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path.startswith("/_control/"):
            self._send(self._control(method, parts.path, body))
            return
        decision = self.server.faults.decide()
        if decision.delay_s:
            time.sleep(decision.delay_s)
        if decision.drop:
            self._drop()
            return
        if decision.status is not None:
            headers = {}
            if decision.retry_after is not None:
                headers["Retry-After"] = str(decision.retry_after)
            response = Response(decision.status, {"error": "injected_fault"}, headers)
        else:
            try:
                response = self.route(method, parts.path, query, body)
            except Exception as exc:  # a stand-in bug must answer 500, not hang
                response = Response(500, {"error": f"stand-in error: {exc}"})
        self.server.record(LoggedRequest(
            at=time.time(), method=method, path=self.path, status=response.status,
            headers={k: v for k, v in self.headers.items()}, body=body,
            latency_ms=(time.perf_counter() - started) * 1000, dropped=decision.drop_after,
        ))
        if decision.drop_after:
            self._drop()
            return
        self._send(response)

    def _drop(self) -> None:
        """Close the connection without a byte of answer (the client sees a reset/EOF)."""
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def _control(self, method: str, path: str, body: bytes) -> Response:
        if path == "/_control/health":
            return Response(200, {"ok": True})
        if path == "/_control/requests":
            if method == "DELETE":
                self.server.clear_requests()
                return Response(204)
            return Response(200, [r.as_dict() for r in self.server.requests()])
        if path == "/_control/faults":
            if method == "POST":
                try:
                    self.server.faults.update(**json.loads(body or b"{}"))
                except (ValueError, TypeError) as exc:
                    return Response(400, {"error": str(exc)})
            return Response(200, self.server.faults.snapshot())
        return Response(404, {"error": "unknown control endpoint"})

    def _send(self, response: Response) -> None:
        body = response.body
        headers = dict(response.headers)
        if body is None:
            payload = b""
        elif isinstance(body, bytes):
            payload = body
        elif isinstance(body, str):
            payload = body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            payload = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        self.send_response(response.status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)


class RunningStandIn:
    """A stand-in serving on a background thread; `url`, `faults`, `requests()`, `stop()`."""

    def __init__(self, server: StandInServer) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, daemon=True,
                                       kwargs={"poll_interval": 0.1})
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def faults(self) -> Faults:
        return self.server.faults

    @property
    def state(self) -> Any:
        return self.server.state

    def requests(self, path_prefix: str = "") -> list[LoggedRequest]:
        return self.server.requests(path_prefix)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> RunningStandIn:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_in_thread(handler_cls, port: int = 0, faults: Faults | None = None,
                    state: Any = None, host: str = "127.0.0.1") -> RunningStandIn:
    return RunningStandIn(StandInServer((host, port), handler_cls, faults=faults, state=state))


def standin_parser(name: str, description: str, port: int) -> argparse.ArgumentParser:
    """The flags every stand-in takes: --host, --port and the fault settings."""
    parser = argparse.ArgumentParser(prog=f"python -m standins {name}",
                                     description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    add_fault_arguments(parser)
    return parser


def run_standin(name: str, args: argparse.Namespace, handler_cls, *, state: Any,
                env_prefix: str | tuple[str, ...],
                server_cls: type[StandInServer] = StandInServer,
                **announce: Any) -> int:
    """Serve an HTTP stand-in in the foreground until Ctrl-C or SIGTERM.

    Prints one JSON line saying where it listens (scripts/run and the tests read it),
    with any extra `announce` fields and the fault settings in force.
    """
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    faults = faults_from_args(args, prefix=env_prefix)
    server = server_cls((args.host, args.port), handler_cls, faults=faults, state=state)
    print(json.dumps({"standin": name, "url": f"http://{args.host}:{server.server_port}",
                      **announce, "faults": faults.snapshot()}), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
