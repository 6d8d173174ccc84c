"""The global rate limit toward Homeria: one token bucket in Redis for all workers.

A Lua script refills the bucket from the Redis server's clock and either takes a token
now, or *reserves* the next one when it comes due within `max_wait_s` (the caller sleeps
that long: a reservation lets the bucket go negative, so waiters queue fairly instead of
polling), or refuses and says how long until a token would be free (the caller then
reschedules the task with a short countdown instead of blocking a worker thread).

Capacity is one second's worth of tokens (at least 1), so a burst after idleness is at
most `rate` requests. `rate == 0` turns the limit off (the benchmark does). If Redis is
unreachable the limiter lets the call through: the breaker and Homeria's 429 still apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from relay.logs import get_logger

log = get_logger(__name__)

BUCKET_KEY = "relay:homeria:ratelimit"

# ARGV: rate (tokens/s), capacity, max_wait_ms -> {granted(0/1), wait_ms}
_TAKE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or capacity
local ts = tonumber(b[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate / 1000)
local wait = 0
if tokens < 1 then wait = math.ceil((1 - tokens) * 1000 / rate) end
local ttl = math.ceil(capacity * 1000 / rate) + 60000
if wait > tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {0, wait}
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, wait}
"""


@dataclass(frozen=True)
class Grant:
    granted: bool
    wait_s: float   # granted: sleep this long first; refused: a token frees up after this
    unavailable: bool = False   # Redis could not be asked: let through (fail open)


class TokenBucket:
    def __init__(self, client: redis.Redis, rate: float, key: str = BUCKET_KEY) -> None:
        self.client = client
        self.key = key   # one bucket per key (the HTTP API keeps one per API key)
        self.rate = float(rate)
        self.capacity = max(1.0, self.rate)
        self._take = client.register_script(_TAKE)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, max_wait_s: float = 0.0) -> Grant:
        if not self.enabled:
            return Grant(True, 0.0)
        try:
            granted, wait_ms = self._take(
                keys=[self.key], args=[self.rate, self.capacity, int(max_wait_s * 1000)])
        except redis.RedisError as exc:
            log.warning("homeria.ratelimit_unavailable", bucket=self.key, error=repr(exc))
            return Grant(True, 0.0, unavailable=True)
        return Grant(bool(granted), int(wait_ms) / 1000)

    def snapshot(self) -> dict:
        doc: dict = {"max_rps": self.rate, "enabled": self.enabled}
        if self.enabled:
            try:
                tokens = self.client.hget(self.key, "tokens")
                doc["tokens"] = round(float(tokens), 2) if tokens is not None else self.capacity
            except redis.RedisError:
                doc["tokens"] = None
        return doc
