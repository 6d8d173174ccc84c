"""REDIS_URL as a Sentinel set: the shared breaker and rate-limit state follows a failover
(a real master SIGKILLed, the replica promoted by three real Sentinels)."""

from __future__ import annotations

import redis

from relay.redisconn import client_for
from sync_worker.breaker import STATE_KEY, Breaker
from sync_worker.ratelimit import BUCKET_KEY, TokenBucket
from tests.support import wait_until
from tests.support.brokers import MASTER_NAME, SentinelSet


def _works(fn) -> bool:
    try:
        return fn() is not False
    except redis.RedisError:  # the first calls after the kill fail: the master is gone
        return False


def test_breaker_and_rate_limit_follow_the_promoted_replica(tmp_path):
    sentinels = SentinelSet(tmp_path)
    try:
        client = client_for(sentinels.url, MASTER_NAME, socket_timeout=1,
                            socket_connect_timeout=1)
        breaker, bucket = Breaker(client, 5, 30), TokenBucket(client, 100)
        # given breaker state written through the Sentinels' master, replicated
        breaker.record_failure("test")
        breaker.record_failure("test")
        assert breaker.snapshot()["consecutive_failures"] == 2
        replica = redis.Redis(port=sentinels.replica_port)
        wait_until(lambda: replica.hget(STATE_KEY, "failures") == b"2", timeout=10,
                   message="the breaker state replicated")
        # when the master is killed and the replica promoted
        sentinels.kill_master()
        wait_until(lambda: sentinels.master_port_now() == sentinels.replica_port, timeout=60,
                   interval=0.2, message="the replica promoted")
        # then the same client objects reach the new master by themselves, state intact
        wait_until(lambda: _works(lambda: client.ping()), timeout=30, interval=0.2,
                   message="commands through the promoted replica")
        assert client.connection_pool.get_master_address()[1] == sentinels.replica_port
        assert breaker.snapshot()["consecutive_failures"] == 2
        breaker.record_failure("test")  # its Lua script is loaded again on the new master
        assert breaker.snapshot()["consecutive_failures"] == 3
        assert bucket.take().granted  # and the bucket's script wrote its state there:
        assert redis.Redis(port=sentinels.replica_port).hexists(BUCKET_KEY, "tokens")
    finally:
        sentinels.stop()
