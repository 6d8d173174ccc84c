"""The stand-ins as `scripts/run` starts them: a subprocess, inspected over HTTP."""

from __future__ import annotations

import requests

from notifications.channels import SmsChannel, SmtpChannel
from notifications.payloads import EmailMessage, SmsMessage
from standins import sms
from tests.support.processes import start_standin


def test_smtp_sink_subprocess_exposes_received_mail_over_http(tmp_path):
    proc, ready = start_standin("smtp", "--http-port", "0", log_path=tmp_path / "smtp.log")
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
        proc.stop(timeout=10)
    assert proc.proc.returncode == 0  # a clean exit on SIGTERM


def test_sms_standin_subprocess_accepts_and_lists_messages(tmp_path):
    proc, ready = start_standin("sms", log_path=tmp_path / "sms.log")
    try:
        channel = SmsChannel(ready["url"], sms.DEFAULT_SID, sms.DEFAULT_TOKEN, "+15005550006")
        accepted = channel.send(SmsMessage(notification_id="n-1", to="+34600000123",
                                           body="hi"))

        [doc] = requests.get(f"{ready['url']}/_control/messages", timeout=5).json()
        assert doc["sid"] == accepted.provider_message_id
    finally:
        proc.stop(timeout=10)
