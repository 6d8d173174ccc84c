"""One Redis client per kombu channel instead of one per publish.

kombu's Redis transport builds a new `redis.Redis` object on every `conn_or_acquire()`:
each task event flush, each ack, each `apply_async`. Measured on the email-sync worker with
task events on (py-spy --gil, 2026-11-30): building those clients was ~9 % of the
worker's CPU, most of what task events cost it; FACTS.md saw the same on the producer side
(~19 %). A `redis.Redis` is safe to share between threads (each command borrows a
connection from the pool), so each channel keeps the one it built and hands it out again
— until its pool is replaced (after a reconnect kombu builds a new pool, and the cached
client goes with the old one). The asynchronous client (BRPOP in the event loop) is
kombu's own business and stays as it is.
"""

from __future__ import annotations

import functools

from kombu.transport import redis as kombu_redis

_ORIGINAL = kombu_redis.Channel._create_client
_installed = False


def _create_client(self, asynchronous: bool = False):
    if asynchronous:
        return _ORIGINAL(self, asynchronous=True)
    pool = self.pool
    cached = self.__dict__.get("_relay_client")
    if cached is None or cached.connection_pool is not pool:
        cached = self.__dict__["_relay_client"] = _ORIGINAL(self)
    return cached


def install() -> None:
    """Patch kombu's Redis channel (idempotent); relay's Celery app calls it on load."""
    global _installed
    if not _installed:
        kombu_redis.Channel._create_client = functools.wraps(_ORIGINAL)(_create_client)
        _installed = True
