"""A lean SMTP server for the sink when it needs neither TLS nor AUTH (the common case).

Why not aiosmtpd there: at a campaign's rate the sink is test equipment competing for the
same two cores as the system under test, and aiosmtpd spent ~0.75 ms of CPU per message
(a coroutine chain per command line, per-session objects, no PIPELINING, so four round
trips a message). This is one `asyncio.Protocol` per connection: commands are parsed
from the receive buffer, the replies to a pipelined group go out in one write, and the
content is cut at its terminator without a per-line loop.

Strict where a client could be wrong (RFC 5321 with RFC 2920 PIPELINING): commands in
the wrong order get 503, a malformed MAIL/RCPT/EHLO 501, an unknown command 500, a command
line over 512 octets 500; dot-stuffing is undone; DATA content over SIZE is refused with
552. A pipelined group is answered in order, and nothing after a command whose reply is
delayed (the injected latency of DATA) is read until that reply went out. The fault
decisions and the messages kept are SinkHandler's (smtp.py), shared with aiosmtpd.
"""

from __future__ import annotations

import asyncio
import re
import threading

from standins.smtp import ReceivedMessage, SinkHandler, new_queue_id

MAX_LINE = 512
MAX_SIZE = 33_554_432
_PATH = re.compile(r"^(?:FROM|TO):\s*<([^<>\s]*)>(?:\s+.*)?$", re.IGNORECASE)
_END = b"\r\n.\r\n"


class Session(asyncio.Protocol):
    def __init__(self, handler: SinkHandler, hostname: str, ident: str) -> None:
        self.handler, self.hostname, self.ident = handler, hostname, ident
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.greeted = False
        self.mail_from: str | None = None
        self.rcpt_tos: list[str] = []
        self.in_content = False
        self.scanned = 0      # content bytes already searched for the terminator
        self.paused = False   # a delayed reply is pending: read nothing further yet
        self.out: list[str] = []

    # -- asyncio ---------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        transport.write(f"220 {self.hostname} ESMTP {self.ident}\r\n".encode())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._process()

    def connection_lost(self, exc) -> None:
        self.transport = None

    # -- the protocol ----------------------------------------------------------------
    def _process(self) -> None:
        while not self.paused and self.transport is not None:
            if self.in_content:
                if not self._content():
                    break
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                if len(self.buffer) > MAX_LINE:
                    self.buffer.clear()
                    self.out.append("500 5.5.2 Error: line too long")
                break
            line = bytes(self.buffer[:end])
            del self.buffer[:end + 2]
            if len(line) > MAX_LINE:
                self.out.append("500 5.5.2 Error: line too long")
                continue
            self._command(line.decode("utf-8", "replace"))
        self._flush()

    def _flush(self) -> None:
        if self.out and self.transport is not None:
            self.transport.write(("\r\n".join(self.out) + "\r\n").encode())
        self.out.clear()

    def _command(self, line: str) -> None:
        verb, _, arg = line.partition(" ")
        verb, arg = verb.upper(), arg.strip()
        if verb in ("EHLO", "HELO"):
            if not arg:
                self.out.append(f"501 5.5.4 Syntax: {verb} hostname")
                return
            self.greeted = True
            self._reset()
            self.handler.opened(self)
            self.out.append(f"250-{self.hostname}\r\n250-SIZE {MAX_SIZE}\r\n250-8BITMIME\r\n"
                            "250-PIPELINING\r\n250 HELP" if verb == "EHLO"
                            else f"250 {self.hostname}")
        elif verb == "MAIL":
            self._mail(arg)
        elif verb == "RCPT":
            self._rcpt(arg)
        elif verb == "DATA":
            self._data(arg)
        elif verb == "RSET":
            self._reset()
            self.out.append("250 2.0.0 OK")
        elif verb == "NOOP":
            self.out.append("250 2.0.0 OK")
        elif verb == "VRFY":
            self.out.append("252 2.0.0 Cannot VRFY user, but will accept message")
        elif verb == "QUIT":
            self.out.append("221 2.0.0 Bye")
            self._flush()
            if self.transport is not None:
                self.transport.close()
        else:
            self.out.append(f'500 5.5.1 Error: command "{verb}" not recognized')

    def _mail(self, arg: str) -> None:
        match = _PATH.match(arg)
        if not self.greeted:
            self.out.append("503 5.5.1 Error: send HELO first")
        elif self.mail_from is not None:
            self.out.append("503 5.5.1 Error: nested MAIL command")
        elif match is None or not arg.upper().startswith("FROM:"):
            self.out.append("501 5.5.4 Syntax: MAIL FROM:<address>")
        else:
            self.mail_from = match.group(1)
            self.out.append("250 2.1.0 OK")

    def _rcpt(self, arg: str) -> None:
        match = _PATH.match(arg)
        if self.mail_from is None:
            self.out.append("503 5.5.1 Error: need MAIL command")
        elif match is None or not arg.upper().startswith("TO:") or not match.group(1):
            self.out.append("501 5.5.4 Syntax: RCPT TO:<address>")
        else:
            refusal = self.handler.rcpt_reply(match.group(1))
            if refusal:
                self.out.append(refusal)
            else:
                self.rcpt_tos.append(match.group(1))
                self.out.append("250 2.1.5 OK")

    def _data(self, arg: str) -> None:
        if arg:
            self.out.append("501 5.5.4 Syntax: DATA")
        elif not self.rcpt_tos:
            self.out.append("503 5.5.1 Error: need RCPT command")
        else:
            self.in_content, self.scanned = True, 0
            self.out.append("354 End data with <CR><LF>.<CR><LF>")

    def _content(self) -> bool:
        """Cut the content at its terminator; False while it has not all arrived."""
        if self.buffer.startswith(b".\r\n"):   # empty content
            raw, consumed = b"", 3
        else:
            end = self.buffer.find(_END, max(0, self.scanned - 4))
            if end < 0:
                self.scanned = len(self.buffer)
                if len(self.buffer) > MAX_SIZE + 2 * MAX_LINE:
                    self.buffer.clear()    # refused below once the terminator comes
                return False
            raw, consumed = bytes(self.buffer[:end + 2]), end + 5
        del self.buffer[:consumed]
        self.in_content = False
        if len(raw) > MAX_SIZE:
            self._reset()
            self.out.append("552 5.3.4 Error: message too big")
            return True
        data = raw.replace(b"\r\n..", b"\r\n.")
        if data.startswith(b".."):
            data = data[1:]
        self._deliver(data)
        return True

    def _deliver(self, data: bytes) -> None:
        decision = self.handler.faults.decide()
        received = ReceivedMessage(queue_id=new_queue_id(), mail_from=self.mail_from or "",
                                   rcpt_tos=list(self.rcpt_tos), data=data, peer=self.peer)
        self._reset()
        if decision.delay_s:
            self.paused = True
            self._flush()
            asyncio.get_running_loop().call_later(decision.delay_s, self._delayed,
                                                  decision, received)
        else:
            self._answer(decision, received)

    def _delayed(self, decision, received: ReceivedMessage) -> None:
        self.paused = False
        if self.transport is not None:
            self._answer(decision, received)
            self._process()

    def _answer(self, decision, received: ReceivedMessage) -> None:
        if decision.drop and self.transport is not None:   # an outage: no reply at all
            self.out.clear()
            self.transport.abort()
            self.transport = None
            return
        self.out.append(self.handler.data_reply(decision, received))

    def _reset(self) -> None:
        self.mail_from, self.rcpt_tos = None, []


class LeanServer:
    """The server on its own event-loop thread: `port`, `loop`, `stop()`."""

    def __init__(self, handler: SinkHandler, host: str, port: int, *,
                 hostname: str = "relay-smtp-sink", ident: str = "relay sink") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name="smtp-sink")
        self._thread.start()
        create = self.loop.create_server(lambda: Session(handler, hostname, ident),
                                         host, port, reuse_address=True)
        self.server = asyncio.run_coroutine_threadsafe(create, self.loop).result(timeout=10)
        self.port: int = self.server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def close() -> None:
            self.server.close()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()
