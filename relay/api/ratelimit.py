"""Per-key rate limit: one token bucket per API key in Redis, shared by every API process
(the same Lua bucket as the Homeria limit, sync_worker.ratelimit).

`API_RATE_LIMIT_RPS` requests a second per key, bursts up to one second's worth; `0`
turns it off. If Redis is unreachable the limit lets requests through (producers must keep
working without Redis, as the Python API does) and stops asking Redis for a few seconds,
so a dead Redis costs no request more than one short timeout.
"""

from __future__ import annotations

import math
import time

import redis

from relay.perprocess import PerProcess
from relay.settings import get_settings
from sync_worker.ratelimit import TokenBucket

KEY_PREFIX = "relay:api:ratelimit:"
SKIP_AFTER_FAILURE_S = 5.0

_buckets: dict[str, TokenBucket] = {}
_skip_until = 0.0


def _connect() -> redis.Redis:
    _buckets.clear()   # a forked child's buckets hold its parent's client
    return redis.Redis.from_url(get_settings().redis_url, socket_timeout=0.25,
                                socket_connect_timeout=0.25)


_client: PerProcess[redis.Redis] = PerProcess(_connect)


def _redis() -> redis.Redis:
    return _client.get()


def retry_after(key_name: str) -> int | None:
    """None if the key may make this request now, else whole seconds to wait (≥ 1)."""
    global _skip_until
    rate = get_settings().api_rate_limit_rps
    if rate <= 0 or time.monotonic() < _skip_until:
        return None
    client = _redis()
    bucket = _buckets.get(key_name)
    if bucket is None:
        bucket = _buckets.setdefault(key_name, TokenBucket(client, rate, KEY_PREFIX + key_name))
    grant = bucket.take()   # fails open when Redis is unreachable
    if grant.unavailable:
        _skip_until = time.monotonic() + SKIP_AFTER_FAILURE_S
        return None
    return None if grant.granted else max(1, math.ceil(grant.wait_s))
