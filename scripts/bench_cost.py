"""`scripts/bench cost`: CPU seconds per email change, per notification, per promotion.

    scripts/bench cost [--changes 1000] [--orders 500] [--promotions 1000]

For capacity planning (README: Scaling out). One worker per kind (threads, as scripts/run
starts them), stand-ins answering at once (--latency-ms 0). For each kind: the worker is
started and idle first; then items are produced in this process and drained; the CPU
used meanwhile is read from /proc for the worker process, for our private PostgreSQL
(postmaster and backends, exited ones included via the postmaster's child times), from
Redis's INFO, and for the producer from this process. CPU time, not wall time: on a
shared host contention inflates both, CPU time far less.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import bench_notify  # noqa: E402 - the scripts directory: stand-ins and set-up
import bench_sync  # noqa: E402

from tests.support import bench  # noqa: E402
from tests.support.cpu import parent_pid, postgres_cpu, proc_cpu  # noqa: E402
from tests.support.polling import wait_until  # noqa: E402
from tests.support.processes import Process, stop_all, wait_workers_answer, worker_argv  # noqa: E402
from tests.support.rows import fetch  # noqa: E402


def redis_cpu(client) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


class Meter:
    def __init__(self, worker_pid: int, postmaster: int, client) -> None:
        self.worker, self.postmaster, self.client = worker_pid, postmaster, client

    def snapshot(self) -> dict[str, float]:
        return {"worker": proc_cpu(self.worker, children=True),
                "postgres": postgres_cpu(self.postmaster), "redis": redis_cpu(self.client),
                "producer": time.process_time()}


def count(sql: str, params=()) -> int:
    (row,) = fetch(sql, params)
    return int(row["n"])


class Cost:
    def __init__(self, args) -> None:
        self.args = args
        self.notify = bench_notify.Bench(SimpleNamespace(latency_ms=0))
        self.rows: list[tuple[str, int, dict]] = []
        self.workers: list[Process] = []

    def setup(self) -> None:
        import redis

        self.notify.setup()
        os.environ.update({"HOMERIA_API_TOKEN": bench_sync.TOKEN,
                           "HOMERIA_SIGNING_SECRET": bench_sync.SECRET})
        self.sync = bench_sync.Bench(SimpleNamespace(latency_ms=0, task_events=False),
                                     Path(tempfile.mkdtemp(prefix="bench-cost-")))
        self.sync.start_standin()
        os.environ["HOMERIA_BASE_URL"] = self.sync.url
        from relay.db import connection
        from relay.settings import reset_settings_cache

        reset_settings_cache()
        with connection() as conn:
            backend = conn.execute("SELECT pg_backend_pid() AS p").fetchone()["p"]
            conn.commit()
        self.postmaster = parent_pid(backend)
        self.redis = redis.Redis.from_url(os.environ["REDIS_URL"])

    def worker(self, queues: str, threads: int) -> Process:
        node = f"cost-{self.notify.run}-{len(self.workers)}@bench"
        env = dict(os.environ, DB_POOL_MAX=str(threads), PYTHONUNBUFFERED="1",
                   LOG_LEVEL="WARNING")
        proc = Process(worker_argv(queues, concurrency=threads, name=node, loglevel="WARNING"),
                       env, ROOT / ".relay" / f"bench-cost-{node}.log")
        self.workers.append(proc)
        wait_workers_answer([node], [proc])
        time.sleep(2)  # let start-up work settle before the first snapshot
        return proc

    def measure(self, label: str, queues: str, threads: int, produce, drained, items) -> None:
        proc = self.worker(queues, threads)
        meter = Meter(proc.pid, self.postmaster, self.redis)
        before = meter.snapshot()
        produce()
        after_produce = time.process_time()
        wait_until(drained, 900, 0.5, label)
        after = meter.snapshot()
        after["producer"] = after_produce
        n = items()
        self.rows.append((label, n, {k: (after[k] - before[k]) / n * 1e3 for k in before}))
        proc.stop(timeout=30)

    def email_changes(self) -> None:
        from sync_worker import enqueue_email_change

        n = self.args.changes
        olds = bench_sync.emails_for("cost", n)
        self.sync.reset_standin(olds)
        ids: list = []

        def produce():
            for i, old in enumerate(olds):
                ids.append(enqueue_email_change(f"cost-{i}", old, f"new-{i}@bench.example.com",
                                                "acme", "ES").change_id)

        self.measure("email change", "homeria", 8, produce,
                     lambda: bench_sync.final_count(ids) >= n, lambda: n)

    def notifications(self, kind: str, n: int, queues: str) -> None:
        from notifications import record_order_event

        tag = f"{self.notify.run}{kind[:2]}"

        def produce():
            for i in range(n):
                record_order_event(bench_notify._event(kind, i, tag))

        pattern = f"bench-{tag}-%"
        self.measure(kind if kind == "promotion" else "notification (order update)", queues,
                     16 if kind != "promotion" else 8, produce,
                     lambda: count("""SELECT count(*) AS n FROM notifications
                                      WHERE event_id LIKE %s AND state IN
                                      ('pending', 'sending')""", (pattern,)) == 0,
                     lambda: count("""SELECT count(*) AS n FROM notifications
                                      WHERE event_id LIKE %s AND state = 'sent'""",
                                   (pattern,)))

    def report(self) -> None:
        print("\nCPU milliseconds per item (scripts/bench cost; shared host, see README)")
        print(f"{'item':32} {'n':>6} {'worker':>8} {'postgres':>9} {'redis':>7} "
              f"{'producer':>9} {'total':>7}")
        for label, n, ms in self.rows:
            total = sum(ms.values())
            print(f"{label:32} {n:>6} {ms['worker']:>8.2f} {ms['postgres']:>9.2f} "
                  f"{ms['redis']:>7.2f} {ms['producer']:>9.2f} {total:>7.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = bench.argparser("cost", __doc__)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=500, help="order events (2 sends each)")
    parser.add_argument("--promotions", type=int, default=1000)
    args = parser.parse_args(argv)
    cost = Cost(args)
    try:
        cost.setup()
        cost.email_changes()
        cost.notifications("shipped", args.orders, "notify.transactional,notify.expedite")
        cost.notifications("promotion", args.promotions, "notify.promotions")
    finally:
        stop_all(cost.workers)
        if getattr(cost, "sync", None) and cost.sync.standin:
            cost.sync.standin.stop()
        cost.notify.teardown()
    cost.report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
