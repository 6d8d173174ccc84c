"""Redis clients from relay's URLs: a plain `redis://` URL or a Sentinel set.

With Sentinel the client is `Sentinel(...).master_for(master)`: its connection pool asks
the Sentinels for the current master on every new connection, so after a failover the
next command after one failed call reaches the promoted replica by itself. Nothing here
caches the master's address.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import redis
from redis.sentinel import Sentinel

from relay.settings import parse_sentinel_url


def client_for(url: str, master: str | None, *, socket_timeout: float = 5,
               socket_connect_timeout: float = 2) -> redis.Redis:
    """A thread-safe, pooled client for `url` (REDIS_URL or a Redis BROKER_URL)."""
    if urlsplit(url).scheme != "sentinel":
        return redis.Redis.from_url(url, socket_timeout=socket_timeout,
                                    socket_connect_timeout=socket_connect_timeout)
    if not master:
        raise ValueError("a sentinel:// URL needs REDIS_SENTINEL_MASTER")
    hosts, password, db = parse_sentinel_url(url)
    sentinel = Sentinel(hosts, socket_timeout=socket_connect_timeout,
                        socket_connect_timeout=socket_connect_timeout)
    return sentinel.master_for(master, db=db, password=password,
                               socket_timeout=socket_timeout,
                               socket_connect_timeout=socket_connect_timeout)


def state_client(settings, **timeouts) -> redis.Redis:
    """REDIS_URL: the shared breaker and rate-limit state."""
    return client_for(settings.redis_url, settings.redis_sentinel_master, **timeouts)


def broker_client(settings, **timeouts) -> redis.Redis:
    """The broker's Redis (BROKER_URL, else REDIS_URL); only for Redis/Sentinel brokers."""
    if settings.broker_kind == "amqp":
        raise ValueError("the broker is RabbitMQ, not Redis")
    return client_for(settings.broker, settings.redis_sentinel_master, **timeouts)
