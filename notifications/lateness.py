"""Order updates picked up late: the second sign that promotions must yield.

Promotions sleep while order updates wait (service.wait_for_orders). Queued messages in
the broker are one sign, but transactional workers prefetch their messages, so beside a
campaign in full flow the queue reads empty while order updates still wait: for a thread,
for the CPU, for PostgreSQL. Measured on a 1,000,000-recipient run (2 cores): the queue
depth was 0 at every 5-second sample while order updates' p99 reached 1.2-1.7 s in one
minute of two, all of it waiting before the claim, none of it in the provider call.

So the claim of a transactional message reports how long it waited since it became due
(`notification_claim`'s `waited_s`); past PROMO_YIELD_LAG_MS, a flag with a one-second
life is set in Redis (REDIS_URL, the shared state), at most ten times a second per
process, and every promotions worker yields while the flag lives. Redis unreachable: no
flag, and promotions go on (order updates are not failed for it).
"""

from __future__ import annotations

import threading
import time

import redis

from notifications import policy
from relay.logs import get_logger
from relay.perprocess import PerProcess

log = get_logger(__name__)

KEY = "relay:notify:orders_late"
FLAG_MS = 1000            # how long one late pick-up holds promotions back
REPORT_EVERY_S = 0.1      # one SET per process per this at most


def _build() -> redis.Redis:
    from relay.redisconn import state_client
    from relay.settings import get_settings

    return state_client(get_settings(), socket_timeout=1, socket_connect_timeout=1)


_client: PerProcess[redis.Redis] = PerProcess(_build, lambda c: c.close())
_reported_at = 0.0        # monotonic; guarded by _lock (the worker's threads share it)
_lock = threading.Lock()


def report(waited_s: float | None) -> None:
    """A transactional message was claimed `waited_s` after it became due (None: a retry,
    whose wait was planned)."""
    lag_ms = policy.promo_yield_lag_ms()
    if not lag_ms or waited_s is None or waited_s * 1000 <= lag_ms:
        return
    global _reported_at
    now = time.monotonic()
    with _lock:
        if now - _reported_at < REPORT_EVERY_S:
            return
        _reported_at = now
    try:
        _client.get().set(KEY, f"{waited_s:.3f}", px=FLAG_MS)
    except redis.RedisError as exc:
        log.warning("notification.lateness_unreported", error=repr(exc))


def orders_late() -> bool:
    """True while an order update was recently picked up later than PROMO_YIELD_LAG_MS."""
    if not policy.promo_yield_lag_ms():
        return False
    try:
        return bool(_client.get().exists(KEY))
    except redis.RedisError:
        return False
