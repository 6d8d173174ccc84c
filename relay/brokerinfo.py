"""What Redis holds for our queues, read directly (no Celery control round-trip).

kombu's Redis transport keeps each queue as a list named after the queue, plus one list
per priority step (`<queue>\\x06\\x16<n>`) when priorities are used. relay uses separate
queues instead of priorities, but counts the priority lists too so nothing hides there.
"""

from __future__ import annotations

import functools

import redis

from relay.settings import get_settings

_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


@functools.lru_cache(maxsize=1)
def _client() -> redis.Redis:
    return redis.Redis.from_url(get_settings().redis_url, socket_timeout=2,
                                socket_connect_timeout=2)


def queue_depth(queue: str, client: redis.Redis | None = None) -> int | None:
    """Messages waiting in `queue`, or None when Redis cannot be reached."""
    client = client or _client()
    try:
        pipe = client.pipeline(transaction=False)
        pipe.llen(queue)
        for step in _PRIORITY_STEPS:
            pipe.llen(f"{queue}{_PRIORITY_SEP}{step}")
        return int(sum(pipe.execute()))
    except redis.RedisError:
        return None


def queue_depths(queues, client: redis.Redis | None = None) -> dict[str, int | None]:
    return {q: queue_depth(q, client) for q in queues}


def unacked_count(client: redis.Redis | None = None) -> int | None:
    """Messages delivered to workers but not yet acknowledged (kombu's `unacked` hash)."""
    client = client or _client()
    try:
        return int(client.hlen("unacked"))
    except redis.RedisError:
        return None
