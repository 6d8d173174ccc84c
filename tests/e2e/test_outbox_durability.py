"""The spine's promise: a committed row is delivered exactly once in effect, whatever
happens to Redis or to a worker. Real PostgreSQL, real Redis, real worker processes."""

from __future__ import annotations

import base64
import json
import threading
import uuid

import pytest

from relay import canary, outbox
from relay.brokerinfo import queue_depth
from relay.db import connection
from tests.support import free_port, run_cli, wait_until

pytestmark = pytest.mark.e2e


def _canaries(ids) -> list[dict]:
    with connection() as conn:
        rows = conn.execute("SELECT * FROM canaries WHERE id = ANY(%s)", (list(ids),)).fetchall()
        conn.commit()
    return rows


def _all_done(ids) -> bool:
    return all(r["done_at"] is not None for r in _canaries(ids))


def _sweep_until_done(ids, lease_s: float = 1.0, timeout: float = 40.0) -> None:
    def done_after_sweep():
        outbox.sweep(lease_s, queue_depth=queue_depth)
        return _all_done(ids)

    wait_until(done_after_sweep, timeout=timeout, interval=0.3, message="canaries done")


def test_row_committed_while_redis_unreachable_is_delivered_once_redis_is_back(
        relay_env, start_worker):
    # given a producer whose broker is unreachable
    dead_env = dict(relay_env, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    # when it sends work
    result = run_cli(["canary", "-q", "maintenance", "--no-wait", "--json"], dead_env)
    # then the call still succeeds: the row is committed, not yet delivered
    assert result.returncode == 0, result.stderr
    canary_id = uuid.UUID(json.loads(result.stdout)["maintenance"]["canary_id"])
    with connection() as conn:
        row = outbox.get(conn, canary_id)
        conn.commit()
    assert row is not None and row["done_at"] is None
    assert row["published_at"] is None, "a failed publish is unmarked for the next sweep"
    # and once a worker and the sweep run against the real broker, it is delivered once
    start_worker("maintenance")
    _sweep_until_done([canary_id])
    (done,) = _canaries([canary_id])
    assert done["effects"] == 1


def test_broker_data_loss_after_publish_loses_nothing(relay_env, redis_client, start_worker):
    # given 50 tasks published while no worker runs
    ids = [canary.send("maintenance") for _ in range(50)]
    assert queue_depth("maintenance") == 50
    # when Redis loses everything (our Redis keeps nothing on disk: a restart does this)
    redis_client.flushdb()
    assert queue_depth("maintenance") == 0
    start_worker("maintenance")
    # then the sweep re-publishes and every row is processed exactly once
    _sweep_until_done(ids)
    rows = _canaries(ids)
    assert len(rows) == 50
    assert {r["effects"] for r in rows} == {1}


def test_worker_killed_mid_task_is_run_again_elsewhere_and_done_once(relay_env, start_worker):
    # given a worker in the middle of a 4-second task
    first = start_worker("maintenance", pool="prefork", concurrency=1)
    canary_id = canary.send("maintenance", work_ms=4000)
    wait_until(lambda: _canaries([canary_id])[0]["runs"] == 1, message="task started")
    # when that worker is killed with SIGKILL (no chance to ack or requeue)
    first.kill()
    assert _canaries([canary_id])[0]["done_at"] is None
    # then another worker runs it again (the sweep republishes after the lease)
    start_worker("maintenance")
    _sweep_until_done([canary_id], lease_s=1.0)
    (row,) = _canaries([canary_id])
    assert row["runs"] >= 2
    assert row["effects"] == 1


def _published_ids(redis_client, queue: str) -> list[str]:
    ids = []
    for raw in redis_client.lrange(queue, 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        ids.append(args[0])
    return ids


def test_two_sweepers_never_publish_the_same_row_twice_in_one_lease(relay_env, redis_client):
    # given 3,000 committed rows whose publish was lost (no worker is running)
    ids = [uuid.uuid4() for _ in range(3000)]
    with connection() as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO outbox (entity_id, kind, task, queue) VALUES (%s, 'canary', %s,"
                " 'maintenance')", [(i, canary.TASK) for i in ids])
        conn.commit()
    # when two sweepers run at the same moment
    barrier = threading.Barrier(2)
    counts = []

    def sweeper():
        barrier.wait()
        counts.append(outbox.sweep(lease_s=60, limit=2000, queue_depth=queue_depth))

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then every row was published exactly once between them
    published = _published_ids(redis_client, "maintenance")
    assert sum(counts) == 3000
    assert len(published) == 3000
    assert set(published) == {str(i) for i in ids}
    # and a third sweep within the lease publishes nothing
    assert outbox.sweep(lease_s=60, queue_depth=queue_depth) == 0


def test_long_retry_waits_are_parked_in_the_row_not_the_broker(relay_env, redis_client):
    from relay.db import transaction

    canary_id = canary.send("maintenance")
    redis_client.flushdb()
    with transaction() as tx:
        assert outbox.retry_in(tx, canary_id, 600) == "parked"
    with transaction() as tx:
        short = canary.send("maintenance")
        redis_client.flushdb()
        assert outbox.retry_in(tx, short, 2) == "countdown"
    # the parked one is in PostgreSQL only; the short one is a countdown message in Redis
    assert _published_ids(redis_client, "maintenance") == [str(short)]
    with connection() as conn:
        parked = outbox.get(conn, canary_id)
        conn.commit()
    assert parked["published_at"] is None
    assert parked["parked_reason"] == "retry"
    # and the sweep leaves it alone until it is due
    assert outbox.sweep(lease_s=0, queue_depth=queue_depth) == 0


def test_work_parked_until_woken_is_readable_and_wakes(relay_env, redis_client):
    from relay.db import transaction

    canary_id = canary.send("maintenance")
    redis_client.flushdb()
    with transaction() as tx:
        outbox.park_until(tx, canary_id, None, "waiting")
    with connection() as conn:
        row = outbox.get(conn, canary_id)  # 'infinity' must load, not raise
        conn.commit()
    assert row["next_attempt_at"].year == 9999 and row["parked_reason"] == "waiting"
    assert outbox.sweep(lease_s=0, queue_depth=queue_depth) == 0
    with transaction() as tx:
        outbox.wake(tx, canary_id)
    assert _published_ids(redis_client, "maintenance") == [str(canary_id)]


def test_worker_runs_a_pipelined_batch_once_each(relay_env, redis_client, start_worker):
    ids = [canary.send("maintenance") for _ in range(200)]
    redis_client.flushdb()
    assert outbox.publish_now([outbox.Publication(i, canary.TASK, "maintenance")
                               for i in ids]) == 200
    start_worker("maintenance")
    wait_until(lambda: _all_done(ids), timeout=60, message="200 pipelined canaries done")
    assert {r["effects"] for r in _canaries(ids)} == {1}
