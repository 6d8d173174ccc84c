"""kombu's Redis transport when Redis goes away with messages unacked, exactly as Celery's
consumer handles it: `connection.collect()`, then its steps close their channels and the
tasks in flight ack. relay/brokerfix.py explains the upstream bug and the workaround."""

from __future__ import annotations

import time
from contextlib import contextmanager, suppress

import pytest
from kombu import Connection, Queue
from kombu.transport import redis as kombu_redis

import relay.celery_app  # noqa: F401  (installs the workaround, as every relay process does)
from relay import brokerfix
from tests.support.servers import PrivateRedis


@pytest.fixture
def server(tmp_path):
    redis_server = PrivateRedis(tmp_path)
    yield redis_server
    redis_server.stop()


def _consumers_holding_unacked(url: str, n: int = 3):
    """n channels, each holding one unacked message (a task in flight, acks_late)."""
    conn = Connection(url)
    conn.connect()
    channels, messages = [], []
    for i in range(n):
        channel = conn.channel()
        queue = Queue(f"q{i}", routing_key=f"q{i}")
        with conn.Producer() as producer:
            producer.publish({"n": i}, routing_key=f"q{i}", declare=[queue])
        message = queue(channel).get(no_ack=False)
        assert message is not None
        channels.append(channel)
        messages.append(message)
    return conn, channels, messages


@contextmanager
def _upstream_kombu():
    patched = {name: getattr(kombu_redis.QoS, name) for name in ("restore_unacked", "ack",
                                                                 "reject")}
    patched_close = kombu_redis.Transport.__dict__.get("close_connection")
    for name in patched:
        setattr(kombu_redis.QoS, name, brokerfix.ORIGINALS[name])
    if patched_close is not None:
        del kombu_redis.Transport.close_connection
    try:
        yield
    finally:
        for name, fn in patched.items():
            setattr(kombu_redis.QoS, name, fn)
        if patched_close is not None:
            kombu_redis.Transport.close_connection = patched_close


def _lose_redis_then_recover_like_celery(server, conn, channels, messages) -> None:
    server.stop()
    with suppress(Exception):   # Celery ignores what collect raises, so do we
        conn.collect()   # Celery: on_connection_error_after_connected
    for channel in channels:   # the consumer's steps close their channels ...
        channel.close()
    for message in messages:   # ... and the tasks in flight finish and ack
        message.ack()


def test_upstream_bug_is_still_there(server):
    # given kombu as released, consumers with messages in flight
    conn, channels, messages = _consumers_holding_unacked(server.url)
    with _upstream_kombu():
        # when Redis goes away and the consumer recovers as Celery does, it dies
        with pytest.raises(AttributeError, match=r"hostname|client"):
            _lose_redis_then_recover_like_celery(server, conn, channels, messages)


def test_with_the_workaround_losing_redis_raises_nothing_but_connection_errors(server):
    # given consumers with messages in flight
    conn, channels, messages = _consumers_holding_unacked(server.url)
    # when Redis goes away and the consumer recovers as Celery does: nothing raises
    _lose_redis_then_recover_like_celery(server, conn, channels, messages)
    # then every channel is closed, none left holding on to the dead connection
    assert all(channel.closed for channel in channels)


def test_with_redis_still_up_unacked_messages_are_restored_as_before(server):
    # the workaround only changes what happens once the connection is gone
    import redis

    conn, _channels, _messages = _consumers_holding_unacked(server.url)
    conn.collect()
    client = redis.Redis.from_url(server.url)
    assert sum(client.llen(f"q{i}") for i in range(3)) == 3
    assert client.hlen("unacked") == 0


class _PoolStub:
    """What `AsynPool._track_child_process` uses of its pool."""

    def __init__(self) -> None:
        self.exits: list = []

    def _event_process_exit(self, hub, proc) -> None:
        self.exits.append(proc)


@pytest.fixture
def child():
    import billiard

    proc = billiard.Process(target=time.sleep, args=(30,))
    proc.start()
    yield proc
    proc.terminate()
    proc.join(5)


def test_prefork_child_untracked_on_a_lost_connection_is_tracked_again(child):
    from celery.concurrency.asynpool import AsynPool
    from kombu.asynchronous import Hub

    # given a child whose exit sentinel Celery untracked when the connection was lost
    child._sentinel_poll = None
    hub = Hub()
    try:
        # upstream: re-registering it after the reconnect kills the worker
        with pytest.raises(ValueError, match="file descriptor is None"):
            brokerfix.ORIGINALS["track_child_process"](_PoolStub(), child, hub)
        # with the workaround the sentinel is duplicated again and watched
        AsynPool._track_child_process(_PoolStub(), child, hub)
        assert isinstance(child._sentinel_poll, int)
        assert child._sentinel_poll in hub.readers
    finally:
        hub.close()
