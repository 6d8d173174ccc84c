"""The stand-ins as `scripts/run` starts them: a subprocess, inspected over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys

import requests

from notifications.channels import SmsChannel, SmtpChannel
from notifications.payloads import EmailMessage, SmsMessage
from standins import sms
from tests.support import ROOT


def start(*args: str) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "standins", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready = json.loads(proc.stdout.readline())  # the first line says where it listens
    return proc, ready


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=10)


def test_smtp_sink_subprocess_exposes_received_mail_over_http():
    proc, ready = start("smtp", "--port", "0", "--http-port", "0")
    try:
        host, port = ready["smtp"].rsplit(":", 1)
        channel = SmtpChannel(host, int(port), email_from="orders@shop.example",
                              promo_email_from="offers@shop.example", timeout=5)
        channel.send(EmailMessage(notification_id="n-1", to="ana@example.com",
                                  subject="Hello", text="t", html="<p>t</p>"))
        channel.close()

        [doc] = requests.get(f"{ready['http']}/_control/messages", timeout=5).json()
        assert doc["headers"]["Subject"] == "Hello"
    finally:
        stop(proc)
    assert proc.returncode == 0


def test_sms_standin_subprocess_accepts_and_lists_messages():
    proc, ready = start("sms", "--port", "0")
    try:
        channel = SmsChannel(ready["url"], sms.DEFAULT_SID, sms.DEFAULT_TOKEN, "+15005550006")
        accepted = channel.send(SmsMessage(notification_id="n-1", to="+34600000123",
                                           body="hi"))

        [doc] = requests.get(f"{ready['url']}/_control/messages", timeout=5).json()
        assert doc["sid"] == accepted.provider_message_id
    finally:
        stop(proc)
