"""Composition root of the email sync: the adapters one worker process shares.

Built on first use from settings and the policy, once per process (`relay.perprocess`:
re-built after a fork, a prefork child must not share the parent's sockets). Tests and
the benchmark call `reset_runtime()` after changing the environment.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from relay.perprocess import PerProcess
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


def _build() -> Runtime:
    settings = get_settings()
    policy = get_policy()
    client = state_client(settings, socket_timeout=2, socket_connect_timeout=2)
    return Runtime(
        policy=policy,
        client=HomeriaClient.from_settings(settings),
        breaker=Breaker(client, policy.breaker_threshold, policy.breaker_cooldown_s),
        bucket=TokenBucket(client, policy.max_rps),
        redis=client,
    )


def _close(rt: Runtime) -> None:
    rt.client.close()
    rt.redis.close()


_runtime: PerProcess[Runtime] = PerProcess(_build, _close)


def runtime() -> Runtime:
    return _runtime.get()


def reset_runtime() -> None:
    _runtime.reset()
