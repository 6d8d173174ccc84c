"""The email channel against the real aiosmtpd sink: outcomes, MIME shape, connections."""

from __future__ import annotations

import logging

import pytest

from notifications.channels import (
    ChannelConfigError,
    PermanentChannelError,
    SmtpChannel,
    TransientChannelError,
)
from notifications.payloads import EmailMessage
from relay.settings import load_settings
from standins import smtp
from tests.integration.channels.conftest import EMAIL_FROM, PROMO_FROM


def order_mail(notification_id: str = "n-1", to: str = "ana@example.com") -> EmailMessage:
    return EmailMessage(notification_id=notification_id, to=to,
                        subject="Tu pedido SO-5531 está en camino",
                        text="Hola, tu pedido está en camino.",
                        html="<p>Hola, tu pedido <b>está</b> en camino.</p>")


def promo_mail(notification_id: str = "p-1") -> EmailMessage:
    return EmailMessage(notification_id=notification_id, to="ana@example.com",
                        subject="Black Friday", text="Offers", html="<p>Offers</p>",
                        promotion=True, unsubscribe_url="https://shop.example/u/abc")


def test_accepted_mail_is_multipart_alternative_from_the_order_sender(sink, email_channel):
    accepted = email_channel.send(order_mail())

    [received] = sink.messages()
    message = received.message
    assert accepted.provider_message_id == received.queue_id
    assert accepted.status == 250
    assert message["Message-ID"] == accepted.message_id
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert "tu pedido está en camino" in received.part("plain")
    assert "<b>está</b>" in received.part("html")
    assert message["Subject"] == "Tu pedido SO-5531 está en camino"
    assert message["From"] == EMAIL_FROM
    assert received.mail_from == "orders@shop.example"
    assert received.rcpt_tos == ["ana@example.com"]
    assert message["List-Unsubscribe"] is None
    assert message["List-Unsubscribe-Post"] is None


def test_promotion_uses_promo_sender_and_one_click_unsubscribe(sink, email_channel):
    email_channel.send(promo_mail())

    [received] = sink.messages()
    assert received.message["From"] == PROMO_FROM
    assert received.mail_from == "offers@shop.example"
    assert received.message["List-Unsubscribe"] == "<https://shop.example/u/abc>"
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_headers_and_bodies_arrive_intact_in_wire_form(sink):
    # headers are folded when built and bodies quoted-printable encoded by hand, so what
    # the receiver parses back must be exactly what was sent
    subject = "Tu pedido SO-5531 está en camino — llega el jueves, " * 3
    text = "Línea con = y espacios al final   \n.una línea que empieza con punto\n" + "x" * 200
    channel = SmtpChannel("127.0.0.1", sink.port, email_from="Tienda Ñandú <orders@shop.example>",
                          promo_email_from=PROMO_FROM, timeout=1.0)
    try:
        channel.send(EmailMessage(notification_id="n-wire", to="ana@example.com",
                                  subject=subject.strip(), text=text,
                                  html="<p>¡Hola! <b>está</b></p>"))
    finally:
        channel.close()

    [received] = sink.messages()
    message = received.message
    assert message["Subject"] == subject.strip()
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Tienda Ñandú", "orders@shop.example")
    assert received.part("plain").replace("\r\n", "\n").rstrip("\n") == text
    assert received.part("html").strip() == "<p>¡Hola! <b>está</b></p>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert all(p["Content-Transfer-Encoding"] == "quoted-printable"
               for p in message.iter_parts())
    lines = received.data.split(b"\r\n")
    assert max(len(line) for line in lines) <= 78
    assert all(line.isascii() for line in lines)


def test_a_long_unsubscribe_link_stays_on_one_header_line(sink, email_channel):
    url = "https://shop.example/unsubscribe?b=acme&u=C-1001&c=bf&t=" + "0123456789abcdef" * 6
    email_channel.send(promo_mail().model_copy(update={"unsubscribe_url": url}))

    [received] = sink.messages()
    assert received.message["List-Unsubscribe"] == f"<{url}>"


def test_message_id_is_derived_from_the_notification_id(sink, email_channel):
    first = email_channel.send(order_mail("n-42"))
    retry = email_channel.send(order_mail("n-42"))
    other = email_channel.send(order_mail("n-43"))

    assert first.message_id == retry.message_id != other.message_id
    assert first.message_id.endswith("@shop.example>")
    assert first.provider_message_id != retry.provider_message_id  # two SMTP queue entries


def test_one_connection_is_kept_across_sends(sink, email_channel):
    for n in range(3):
        email_channel.send(order_mail(f"n-{n}"))

    assert len(sink.messages()) == 3
    assert sink.connections == 1


def test_a_connection_the_server_closed_while_idle_is_replaced(sink, email_channel):
    email_channel.send(order_mail("n-1"))
    assert sink.drop_connections() == 1

    email_channel.send(order_mail("n-2"))

    assert len(sink.messages()) == 2
    assert sink.connections == 2


@pytest.mark.parametrize(("to", "code"), [("bounce@example.com", 550),
                                          ("invalid@example.com", 553)])
def test_5xx_recipient_refusal_is_permanent(sink, email_channel, to, code):
    with pytest.raises(PermanentChannelError) as caught:
        email_channel.send(order_mail(to=to))

    assert caught.value.status == code
    assert caught.value.reason == f"smtp_{code}"
    assert not caught.value.transient
    assert sink.messages() == []


def test_4xx_recipient_refusal_is_transient(sink, email_channel):
    with pytest.raises(TransientChannelError) as caught:
        email_channel.send(order_mail(to="defer@example.com"))

    assert caught.value.status == 451
    assert not caught.value.alert


def test_refused_message_leaves_the_connection_usable(sink, email_channel):
    sink.faults.update(error_rate=1, error_status=554)
    with pytest.raises(PermanentChannelError):
        email_channel.send(order_mail("n-1"))
    sink.faults.reset()

    email_channel.send(order_mail("n-2"))

    assert len(sink.messages()) == 1
    assert sink.connections == 1


def test_injected_4xx_at_data_is_transient(sink, email_channel):
    sink.faults.update(error_rate=1)  # SmtpFaults default: 451

    with pytest.raises(TransientChannelError) as caught:
        email_channel.send(order_mail())

    assert caught.value.status == 451


def test_421_busy_is_transient(sink, email_channel):
    sink.faults.update(burst_429=1)

    with pytest.raises(TransientChannelError) as caught:
        email_channel.send(order_mail("n-1"))
    email_channel.send(order_mail("n-2"))

    assert caught.value.status == 421
    assert len(sink.messages()) == 1


def test_slow_server_times_out_as_transient(sink):
    channel = SmtpChannel("127.0.0.1", sink.port, email_from=EMAIL_FROM,
                          promo_email_from=PROMO_FROM, timeout=0.3)
    sink.faults.update(latency_ms=1500)

    with pytest.raises(TransientChannelError) as caught:
        channel.send(order_mail())

    assert caught.value.reason == "timeout"


def test_dropped_connection_is_transient_and_the_next_send_reconnects(sink, email_channel):
    sink.faults.update(outage_seconds=30)
    with pytest.raises(TransientChannelError) as caught:
        email_channel.send(order_mail("n-1"))
    sink.faults.reset()

    email_channel.send(order_mail("n-2"))

    assert caught.value.reason == "connection_error"
    assert [m.message["X-Relay-Notification-Id"] for m in sink.messages()] == ["n-2"]


def test_nothing_listening_is_transient(closed_port):
    channel = SmtpChannel("127.0.0.1", closed_port, email_from=EMAIL_FROM,
                          promo_email_from=PROMO_FROM, timeout=1.0)

    with pytest.raises(TransientChannelError) as caught:
        channel.send(order_mail())

    assert caught.value.reason == "connection_error"
    assert not caught.value.alert


def test_auth_and_starttls_from_settings():
    with smtp.serve(auth=("relay", "s3cret"), starttls=True) as sink:
        settings = load_settings(
            DATABASE_URL="postgresql://localhost/x", REDIS_URL="redis://localhost",
            SMTP_URL=f"smtp://relay:s3cret@127.0.0.1:{sink.port}?starttls=1&timeout=2",
            EMAIL_FROM=EMAIL_FROM, PROMO_EMAIL_FROM=PROMO_FROM)
        channel = SmtpChannel.from_settings(settings, tls_context=sink.client_tls_context())

        channel.send(order_mail())
        channel.close()

        [received] = sink.messages()
        assert received.tls is True
        assert received.auth_user == "relay"


def test_implicit_tls_smtps():
    with smtp.serve(implicit_tls=True) as sink:
        channel = SmtpChannel("127.0.0.1", sink.port, email_from=EMAIL_FROM,
                              promo_email_from=PROMO_FROM, ssl_mode=True,
                              tls_context=sink.client_tls_context(), timeout=2)

        channel.send(order_mail())
        channel.close()

        assert sink.messages()[0].tls is True


def test_wrong_password_is_a_config_error_that_alerts():
    with smtp.serve(auth=("relay", "s3cret")) as sink:
        channel = SmtpChannel("127.0.0.1", sink.port, email_from=EMAIL_FROM,
                              promo_email_from=PROMO_FROM, username="relay", password="nope")

        with pytest.raises(ChannelConfigError) as caught:
            channel.send(order_mail())

        assert caught.value.alert and caught.value.transient
        assert caught.value.status == 535
        assert sink.messages() == []


def test_untrusted_certificate_is_a_config_error():
    with smtp.serve(starttls=True) as sink:
        channel = SmtpChannel("127.0.0.1", sink.port, email_from=EMAIL_FROM,
                              promo_email_from=PROMO_FROM, starttls=True)  # system CAs only

        with pytest.raises(ChannelConfigError) as caught:
            channel.send(order_mail())

        assert caught.value.reason == "tls_verify_failed"


def test_logs_mask_the_recipient(sink, email_channel, caplog):
    caplog.set_level(logging.INFO, logger="notifications.channels.smtp")

    email_channel.send(order_mail())
    with pytest.raises(PermanentChannelError):
        email_channel.send(order_mail(to="bounce@example.com"))

    # only this module's records: the sink's own logger (aiosmtpd) may log too, when an
    # earlier test left the root logger at INFO
    fields = [r.fields for r in caplog.records if r.name == "notifications.channels.smtp"]
    assert [f["to"] for f in fields] == ["a***@example.com", "b***@example.com"]
    assert "ana@example.com" not in caplog.text


def test_sink_http_endpoint_lists_and_clears_messages():
    import requests

    with smtp.serve(http_port=0) as sink:
        channel = SmtpChannel("127.0.0.1", sink.port, email_from=EMAIL_FROM,
                              promo_email_from=PROMO_FROM)
        channel.send(order_mail())
        channel.close()

        [doc] = requests.get(f"{sink.http_url}/_control/messages", timeout=5).json()
        assert doc["headers"]["Subject"] == "Tu pedido SO-5531 está en camino"
        assert doc["rcpt_tos"] == ["ana@example.com"]
        assert "<b>está</b>" in doc["html"]

        requests.post(f"{sink.http_url}/_control/faults", json={"error_rate": 1}, timeout=5)
        assert sink.faults.error_rate == 1
        requests.delete(f"{sink.http_url}/_control/messages", timeout=5)
        assert sink.messages() == []
