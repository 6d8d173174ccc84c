"""The Homeria circuit breaker, shared by every worker process through Redis.

Why Redis and Lua: the breaker protects Homeria (and our retry budget) from all workers at
once, so its state must be shared, and each transition must be one atomic step — two
workers failing at the same moment must count as two failures, and after the cool-down
exactly ONE of them may probe. Each operation is a small Lua script; times come from the
Redis server's clock (TIME), so workers on different hosts agree.

States: closed -> (N consecutive transient failures, or any 401/403) -> open ->
(cool-down elapsed) -> half-open: the first caller wins the probe key (SET NX with a TTL,
so a probe whose worker died is replaced) -> success closes, failure re-opens.

Losing the state (a Redis flush or restart) means "closed": the next failures open it
again. If Redis cannot be reached at all, `allow()` says yes: the broker is down too, and
a breaker must never become the reason nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from relay.logs import get_logger

log = get_logger(__name__)

STATE_KEY = "relay:homeria:breaker"
PROBE_KEY = "relay:homeria:breaker:probe"
PROBE_TTL_MS = 20_000
HALF_OPEN_WAIT_S = 1.0   # callers that lose the probe race look again after this

_NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

# -> {allowed (0/1), state, wait_ms, consecutive failures}
_ALLOW = _NOW + """
local st = redis.call('HMGET', KEYS[1], 'state', 'reopen_at', 'failures')
if not st[1] or st[1] == 'closed' then return {1, 'closed', 0, tonumber(st[3]) or 0} end
local reopen = tonumber(st[2]) or 0
if now < reopen then return {0, 'open', reopen - now, 0} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('HSET', KEYS[1], 'state', 'half_open')
  return {1, 'probe', 0, 0}
end
return {0, 'half_open', tonumber(ARGV[3]), 0}
"""

# ARGV: threshold, cooldown_ms, reason, force(0/1), is_probe(0/1) -> {opened_now, state}
_FAILURE = _NOW + """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local threshold = tonumber(ARGV[1])
if ARGV[4] == '1' or ARGV[5] == '1' or (state == 'closed' and failures >= threshold) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', now,
             'reopen_at', now + tonumber(ARGV[2]), 'reason', ARGV[3])
  redis.call('DEL', KEYS[2])
  if state == 'closed' then return {1, 'open'} end
  return {0, 'open'}
end
return {0, state}
"""

# -> 1 if this call closed an open/half-open breaker
_SUCCESS = """
local st = redis.call('HMGET', KEYS[1], 'state', 'failures')
if (not st[1] or st[1] == 'closed') and (not st[2] or st[2] == '0') then return 0 end
redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0)
redis.call('HDEL', KEYS[1], 'reopen_at', 'reason')
redis.call('DEL', KEYS[2])
if st[1] and st[1] ~= 'closed' then return 1 end
return 0
"""


_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Permit:
    allowed: bool
    state: str            # closed | probe | open | half_open | unknown
    wait_s: float = 0.0   # when not allowed: look again after this long
    failures: int = 0     # consecutive failures seen when asked (closed only)

    @property
    def clean(self) -> bool:
        """Closed with no failures counted: a success has nothing to reset, so callers skip
        the write (one Redis call per change fewer). A failure another worker counts in
        between is reset by the next success whose permit saw it."""
        return self.state == "closed" and self.failures == 0

    @property
    def is_probe(self) -> bool:
        return self.state == "probe"


class Breaker:
    def __init__(self, client: redis.Redis, threshold: int, cooldown_s: float) -> None:
        self.client = client
        self.threshold = threshold
        self.cooldown_ms = int(cooldown_s * 1000)
        self._allow = client.register_script(_ALLOW)
        self._failure = client.register_script(_FAILURE)
        self._success = client.register_script(_SUCCESS)
        self._release = client.register_script(_RELEASE)

    def allow(self, holder: str = "1") -> Permit:
        try:
            ok, state, wait_ms, failures = self._allow(
                keys=[STATE_KEY, PROBE_KEY],
                args=[holder, PROBE_TTL_MS, int(HALF_OPEN_WAIT_S * 1000)])
        except redis.RedisError as exc:
            log.warning("homeria.breaker_unavailable", error=repr(exc))
            return Permit(True, "unknown")
        return Permit(bool(ok), _text(state), int(wait_ms) / 1000, int(failures))

    def release_probe(self, holder: str) -> None:
        """Give the half-open probe back unused (the change turned out not to be sendable)."""
        try:
            self._release(keys=[PROBE_KEY], args=[holder])
        except redis.RedisError:
            pass  # it expires after PROBE_TTL_MS anyway

    def record_success(self) -> bool:
        """Close the breaker (resets the failure count). True if it was open/half-open."""
        try:
            closed = bool(self._success(keys=[STATE_KEY, PROBE_KEY]))
        except redis.RedisError:
            return False
        if closed:
            log.info("homeria.breaker_closed")
        return closed

    def record_failure(self, reason: str, *, force_open: bool = False,
                       probe: bool = False) -> bool:
        """Count one transient failure (or open at once). True if this call opened it."""
        try:
            opened, _state = self._failure(
                keys=[STATE_KEY, PROBE_KEY],
                args=[self.threshold, self.cooldown_ms, reason, int(force_open), int(probe)])
        except redis.RedisError:
            return False
        if opened:
            log.warning("homeria.breaker_opened", reason=reason,
                        cooldown_s=self.cooldown_ms / 1000)
        return bool(opened)

    def snapshot(self) -> dict:
        """For `relay status`: state, consecutive failures, opened_at, reopen_at, reason."""
        try:
            raw = {_text(k): _text(v) for k, v in self.client.hgetall(STATE_KEY).items()}
            probing = bool(self.client.exists(PROBE_KEY))
        except redis.RedisError as exc:
            return {"state": "unknown", "error": repr(exc)}
        return {
            "state": raw.get("state", "closed"),
            "consecutive_failures": int(raw.get("failures", 0)),
            "opened_at": _ms_iso(raw.get("opened_at")) if raw.get("state") != "closed"
            else None,
            "reopen_at": _ms_iso(raw.get("reopen_at")),
            "reason": raw.get("reason"),
            "probe_in_flight": probing,
            "threshold": self.threshold,
            "cooldown_s": self.cooldown_ms / 1000,
        }


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _ms_iso(value: str | None) -> str | None:
    if not value:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(value) / 1000, UTC).isoformat(timespec="milliseconds")
