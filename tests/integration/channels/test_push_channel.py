"""The push channel against the FCM v1-shaped stand-in: accepted, dead tokens, retries."""

from __future__ import annotations

import pytest

from notifications.channels import (
    ChannelConfigError,
    PermanentChannelError,
    PushChannel,
    TransientChannelError,
)
from notifications.payloads import PushMessage
from relay.settings import load_settings
from standins import push
from tests.integration.channels.conftest import FAST


def note(token: str = "tok-ana-1", notification_id: str = "n-1") -> PushMessage:  # noqa: S107
    return PushMessage(notification_id=notification_id, token=token,
                       title="Your order is on its way", body="Order SO-5531 has shipped.",
                       data={"order_number": "SO-5531"})


def test_accepted_push_returns_the_fcm_message_name(push_api, push_channel):
    accepted = push_channel.send(note())

    [stored] = push_api.state.messages()
    assert accepted.provider_message_id == stored.name
    assert accepted.provider_message_id.startswith("projects/relay-dev/messages/")
    assert (stored.token, stored.title, stored.body) == (
        "tok-ana-1", "Your order is on its way", "Order SO-5531 has shipped.")
    assert stored.data == {"order_number": "SO-5531", "notification_id": "n-1"}
    [request] = push_api.requests("/v1/")
    assert request.headers["Authorization"] == f"Bearer {push.DEFAULT_TOKEN}"


@pytest.mark.parametrize("kill", [False, True])
def test_unregistered_token_is_permanent_and_dropped(push_api, push_channel, kill):
    token = "tok-uninstalled" if kill else "dead-tok-1"
    if kill:
        push_api.state.kill(token)

    with pytest.raises(PermanentChannelError) as caught:
        push_channel.send(note(token=token))

    assert caught.value.drop_token
    assert caught.value.reason == "token_unregistered"
    assert caught.value.status == 404


def test_malformed_token_is_permanent_and_dropped(push_api, push_channel):
    with pytest.raises(PermanentChannelError) as caught:
        push_channel.send(note(token="bad-token"))

    assert caught.value.drop_token
    assert caught.value.reason == "token_invalid"
    assert caught.value.status == 400


def test_strict_registry_only_knows_registered_tokens():
    with push.serve(strict=True) as api:
        channel = PushChannel(api.url, push.DEFAULT_PROJECT, push.DEFAULT_TOKEN, timeout=FAST)
        api.state.register("tok-known")

        channel.send(note(token="tok-known"))
        with pytest.raises(PermanentChannelError) as caught:
            channel.send(note(token="tok-unknown"))

        assert caught.value.drop_token


def test_wrong_bearer_token_is_a_config_error(push_api):
    channel = PushChannel(push_api.url, push.DEFAULT_PROJECT, "expired", timeout=FAST)

    with pytest.raises(ChannelConfigError) as caught:
        channel.send(note())

    assert caught.value.status == 401
    assert caught.value.alert and not caught.value.drop_token


def test_wrong_project_is_a_config_error(push_api):
    channel = PushChannel(push_api.url, "other-project", push.DEFAULT_TOKEN, timeout=FAST)

    with pytest.raises(ChannelConfigError) as caught:
        channel.send(note())

    assert caught.value.status == 403


def test_quota_exceeded_is_transient_with_retry_after(push_api, push_channel):
    push_api.faults.update(burst_429=1, retry_after=12)

    with pytest.raises(TransientChannelError) as caught:
        push_channel.send(note())

    assert caught.value.retry_after == 12
    assert not caught.value.drop_token


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(push_api, push_channel, status):
    push_api.faults.update(error_rate=1, error_status=status)

    with pytest.raises(TransientChannelError) as caught:
        push_channel.send(note())

    assert caught.value.status == status


def test_slow_api_times_out_as_transient(push_api):
    channel = PushChannel(push_api.url, push.DEFAULT_PROJECT, push.DEFAULT_TOKEN,
                          timeout=(1.0, 0.2))
    push_api.faults.update(latency_ms=1000)

    with pytest.raises(TransientChannelError) as caught:
        channel.send(note())

    assert caught.value.reason == "timeout"


def test_dropped_connection_is_transient(push_api, push_channel):
    push_api.faults.update(outage_seconds=30)

    with pytest.raises(TransientChannelError) as caught:
        push_channel.send(note())

    assert caught.value.reason == "connection_error"


def test_from_settings(push_api):
    settings = load_settings(
        DATABASE_URL="postgresql://localhost/x", REDIS_URL="redis://localhost",
        PUSH_API_URL=push_api.url, PUSH_PROJECT_ID="shop-app", PUSH_API_TOKEN="t-1")
    push_api.state.project_id, push_api.state.api_token = "shop-app", "t-1"

    accepted = PushChannel.from_settings(settings).send(note())

    assert accepted.provider_message_id.startswith("projects/shop-app/messages/")
