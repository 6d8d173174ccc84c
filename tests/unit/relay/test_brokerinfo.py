"""Queue depth arithmetic over kombu's Redis layout (fakeredis: Redis logic only)."""

import fakeredis
import redis

from relay.brokerinfo import queue_depth, unacked_count


def test_queue_depth_counts_the_queue_and_its_priority_lists():
    r = fakeredis.FakeRedis()
    r.lpush("homeria", "a", "b")
    r.lpush("homeria\x06\x163", "c")
    r.lpush("maintenance", "x")
    assert queue_depth("homeria", r) == 3
    assert queue_depth("notify.promotions", r) == 0


def test_unreachable_broker_reads_as_none_not_an_exception():
    r = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    assert queue_depth("homeria", r) is None
    assert unacked_count(r) is None
