"""kombu's Redis channel keeps one client (relay/brokerclient.py) and still publishes,
consumes and acks through it; a replaced pool gets a new client."""

from __future__ import annotations

from kombu import Connection, Queue

import relay.celery_app  # noqa: F401  (installs the patch, as every relay process does)


def test_a_channel_reuses_its_client_until_its_pool_is_replaced(broker):
    with Connection(broker) as conn:
        channel = conn.default_channel
        first = channel._create_client()
        assert channel._create_client() is first
        queue = Queue("brokerclient-test", routing_key="brokerclient-test")
        with conn.Producer(channel) as producer:
            for i in range(3):
                producer.publish({"n": i}, routing_key="brokerclient-test",
                                 declare=[queue], serializer="json")
        got = []
        with conn.Consumer(queue, callbacks=[lambda body, msg: (got.append(body["n"]),
                                                                msg.ack())]):
            while len(got) < 3:
                conn.drain_events(timeout=5)
        assert sorted(got) == [0, 1, 2]
        assert channel._create_client() is first
        # after a reconnect kombu builds a new pool: the old client is not handed out
        channel._pool = None
        assert channel._create_client() is not first
