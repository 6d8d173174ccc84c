"""The SMTP sink's lean server (standins/smtp_server.py) speaks SMTP strictly, with
PIPELINING: spoken to over a raw socket, as a client that gets things wrong would."""

from __future__ import annotations

import socket

import pytest

from standins import smtp


@pytest.fixture
def sink():
    with smtp.serve() as running:
        yield running


class Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.file = self.sock.makefile("rb")
        self.reply()   # the greeting

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def reply(self) -> tuple[int, list[str]]:
        lines = []
        while True:
            line = self.file.readline().decode().rstrip("\r\n")
            lines.append(line[4:])
            if line[3:4] != "-":
                return int(line[:3]), lines

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def client(sink):
    c = Client(sink.port)
    yield c
    c.close()


def test_ehlo_offers_pipelining_and_a_pipelined_message_is_kept_unstuffed(sink, client):
    client.send("EHLO test.example\r\n")
    assert "PIPELINING" in client.reply()[1]
    # when MAIL, RCPT and DATA go in one write, then the content
    client.send("MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n")
    assert [client.reply()[0] for _ in range(3)] == [250, 250, 354]
    client.send("Subject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n")
    code, text = client.reply()
    # then it is accepted once, as sent before dot-stuffing
    assert code == 250 and "queued as" in text[0]
    [message] = sink.messages()
    assert message.data == b"Subject: hi\r\n\r\n.leading dot\r\nbody\r\n"
    assert message.mail_from == "a@x.example" and message.rcpt_tos == ["b@y.example"]


@pytest.mark.parametrize("commands, codes", [
    ("MAIL FROM:<a@x.example>\r\n", [503]),                       # before EHLO
    ("EHLO t\r\nRCPT TO:<b@y.example>\r\n", [250, 503]),          # RCPT before MAIL
    ("EHLO t\r\nMAIL FROM:<a@x.example>\r\nDATA\r\n", [250, 250, 503]),   # DATA, no RCPT
    ("EHLO t\r\nMAIL FROM:<a@x.example>\r\nMAIL FROM:<a@x.example>\r\n", [250, 250, 503]),
    ("EHLO t\r\nMAIL FROM:a@x.example\r\n", [250, 501]),          # no angle brackets
    ("EHLO t\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<>\r\n", [250, 250, 501]),
    ("EHLO\r\n", [501]),
    ("XYZZY\r\n", [500]),
    ("EHLO t\r\n" + "NOOP " + "x" * 600 + "\r\n", [250, 500]),
], ids=["mail-before-ehlo", "rcpt-before-mail", "data-without-rcpt", "nested-mail",
        "bad-path", "empty-rcpt", "ehlo-without-name", "unknown", "line-too-long"])
def test_commands_out_of_order_or_malformed_are_refused(client, commands, codes):
    client.send(commands)
    assert [client.reply()[0] for _ in codes] == codes


def test_recipient_rules_and_rset_keep_the_session_usable(sink, client):
    client.send("EHLO t\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<bounce@y.example>\r\n"
                "RSET\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<ok@y.example>\r\nDATA\r\n")
    assert [client.reply()[0] for _ in range(7)] == [250, 250, 550, 250, 250, 250, 354]
    client.send(".\r\n")   # empty content
    assert client.reply()[0] == 250
    assert [m.data for m in sink.messages()] == [b""]


def test_nothing_after_a_delayed_reply_is_answered_before_it(sink, client):
    sink.faults.update(latency_ms=100)
    client.send("EHLO t\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n")
    assert [client.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    client.send("x\r\n.\r\nNOOP\r\nQUIT\r\n")   # the next commands pipelined behind it
    replies = [client.reply() for _ in range(3)]
    assert "queued as" in replies[0][1][0]   # the delayed reply first, in order
    assert [code for code, _ in replies] == [250, 250, 221]
