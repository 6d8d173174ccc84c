"""Rate limits for campaign sends, shared by every worker: token buckets in Redis.

- per campaign: `max_per_second` from the campaign document;
- per provider (channel): PROMO_PROVIDER_MAX_RPS, so several campaigns at once cannot
  exceed what a provider accepts.

The same Lua idea as the Homeria limiter (sync_worker/ratelimit.py), for `n` tokens at a
time (a batch takes its tokens in one call): refill from the Redis server's clock, then
either take the tokens (possibly *reserving* them: the bucket goes negative and the caller
sleeps the returned wait, so waiters queue fairly), or refuse when the wait would exceed
`max_wait_ms`. Capacity is one second of tokens, so callers ask for at most that many at
once. If Redis is unreachable the limit lets the batch through (logged): sending late is
worse than a provider's own 429, which the channels already treat as transient.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from relay.logs import get_logger

log = get_logger(__name__)

# KEYS[1] bucket; ARGV: rate (tokens/s), capacity, n, max_wait_ms -> {granted, wait_ms}
_TAKE_N = """
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local n, max_wait = tonumber(ARGV[3]), tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or capacity
local ts = tonumber(b[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate / 1000)
local wait = 0
if tokens < n then wait = math.ceil((n - tokens) * 1000 / rate) end
local ttl = math.ceil(capacity * 1000 / rate) + 60000
if wait > max_wait then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {0, wait}
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - n), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, wait}
"""


@dataclass(frozen=True)
class Grant:
    granted: bool
    wait_s: float   # granted: sleep this long first; refused: tokens free up after this


def capacity(rate: float) -> int:
    """Most tokens one call may ask for: one second's worth, at least one."""
    return max(1, int(rate))


class Buckets:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._take = client.register_script(_TAKE_N)

    def take(self, key: str, rate: float | None, n: int, max_wait_s: float) -> Grant:
        if not rate or n <= 0:
            return Grant(True, 0.0)
        n = min(n, capacity(rate))
        try:
            granted, wait_ms = self._take(
                keys=[key], args=[rate, capacity(rate), n, int(max_wait_s * 1000)])
        except redis.RedisError as exc:
            log.warning("campaign.ratelimit_unavailable", key=key, error=repr(exc))
            return Grant(True, 0.0)
        return Grant(bool(granted), int(wait_ms) / 1000)


def campaign_key(campaign_id: str) -> str:
    return f"relay:campaign:{campaign_id}:ratelimit"


def provider_key(channel: str) -> str:
    return f"relay:provider:{channel}:ratelimit"


_buckets: Buckets | None = None


def buckets() -> Buckets:
    global _buckets
    if _buckets is None:
        from relay.brokerinfo import client

        _buckets = Buckets(client())
    return _buckets
