"""Composition root of the email sync: the adapters one worker process shares.

Built on first use from settings and the policy, once per process (re-built after a
fork: a prefork child must not share the parent's sockets). Tests and the benchmark call
`reset_runtime()` after changing the environment.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import redis

from relay.redisconn import state_client
from relay.settings import get_settings
from sync_worker.breaker import Breaker
from sync_worker.client import HomeriaClient
from sync_worker.policy import Policy, get_policy
from sync_worker.ratelimit import TokenBucket


@dataclass
class Runtime:
    policy: Policy
    client: HomeriaClient
    breaker: Breaker
    bucket: TokenBucket
    redis: redis.Redis


_runtime: Runtime | None = None
_pid: int | None = None
_lock = threading.Lock()


def runtime() -> Runtime:
    global _runtime, _pid
    if _runtime is not None and _pid == os.getpid():
        return _runtime
    with _lock:
        if _runtime is None or _pid != os.getpid():
            settings = get_settings()
            policy = get_policy()
            client = state_client(settings, socket_timeout=2, socket_connect_timeout=2)
            _runtime = Runtime(
                policy=policy,
                client=HomeriaClient.from_settings(settings),
                breaker=Breaker(client, policy.breaker_threshold, policy.breaker_cooldown_s),
                bucket=TokenBucket(client, policy.max_rps),
                redis=client,
            )
            _pid = os.getpid()
    return _runtime


def reset_runtime() -> None:
    global _runtime, _pid
    with _lock:
        if _runtime is not None and _pid == os.getpid():
            _runtime.client.close()
            _runtime.redis.close()
        _runtime, _pid = None, None
