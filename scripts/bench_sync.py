"""`scripts/bench sync`: the email sync against the Homeria stand-in, and a plain baseline.

Runs, in one go, against a stand-in answering after 20 ms (HOMERIA_MAX_RPS=0):
1. throughput, baseline: a plain Celery task (defined below, its own small app and queue
   on the same Redis) that POSTs the same signed body — no database, no ordering, no
   retries, no guarantees;
2. throughput, relay: `sync_worker.deliver_email_change` as `scripts/run` deploys it (two
   worker processes, threads -c8 each) and, for comparison, one prefork worker; N changes
   committed first, then the workers drain them. Throughput is measured at the stand-in:
   (applied - 1) / (last arrival - first arrival);
3. latency, relay: a steady --rate changes/s for --duration s into a running worker;
   enqueue call -> Homeria applied (stand-in arrival), p50/p95/p99.

Needs DATABASE_URL and REDIS_URL (scripts/bench provides private ones). Creates and drops
its own database. Exits 0 when it ran; prints whether the targets were met.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.bench import argparser, fresh_run, print_table  # noqa: E402
from tests.support.cpu import group_cpu as group_cpu_s  # noqa: E402
from tests.support.databases import drop_database  # noqa: E402
from tests.support.polling import wait_until  # noqa: E402
from tests.support.processes import (  # noqa: E402
    STANDINS,
    Process,
    free_port,
    wait_http,
    worker_argv,
)
from tests.support.stats import percentile  # noqa: E402

TOKEN = "bench-token"
SECRET = "bench-secret"
BASELINE_QUEUE = "bench.baseline"
BASELINE_RUN = "baseline (plain Celery)"
RELAY_RUN = "relay email sync"


# -- the baseline: a plain Celery app, imported by its worker as bench_sync:baseline ------
def _make_baseline():
    from celery import Celery

    app = Celery("bench_baseline", broker=os.environ.get("REDIS_URL", "redis://"))
    app.conf.update(task_serializer="json", accept_content=["json"], task_ignore_result=True,
                    worker_hijack_root_logger=False, task_default_queue=BASELINE_QUEUE,
                    broker_connection_retry_on_startup=True)
    state: dict = {}

    @app.task(name="bench.baseline_post", ignore_result=True)
    def baseline_post(change: dict) -> int:
        from sync_worker.client import HomeriaClient
        from sync_worker.errors import HomeriaError
        from sync_worker.payload import EmailChangePayload

        if state.get("pid") != os.getpid():
            state.update(pid=os.getpid(), client=HomeriaClient(
                os.environ["HOMERIA_BASE_URL"], TOKEN, SECRET))
        try:
            return state["client"].send_change(EmailChangePayload(**change)).status_code
        except HomeriaError as failure:
            return failure.status_code or 0

    return app, baseline_post


baseline, baseline_post = _make_baseline()


# -- plumbing ---------------------------------------------------------------------------
class Bench:
    def __init__(self, args, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, HOMERIA_BASE_URL=self.url, HOMERIA_API_TOKEN=TOKEN,
                        HOMERIA_SIGNING_SECRET=SECRET, HOMERIA_MAX_RPS="0",
                        LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1",
                        PYTHONPATH=f"{ROOT / 'scripts'}:{ROOT}")
        self.standin: Process | None = None
        self.http = requests.Session()

    # stand-in
    def start_standin(self) -> None:
        cmd = [*STANDINS, "homeria", "--port", str(self.port),
               "--token", TOKEN, "--secret", SECRET, "--latency-ms", str(self.args.latency_ms)]
        self.standin = Process(cmd, self.env, self.workdir / "standin.log")
        wait_http(self.url + "/_control/health", self.standin, timeout=15,
                  what="the Homeria stand-in")

    def reset_standin(self, emails: list[str]) -> None:
        self.http.delete(self.url + "/_control/customers", timeout=10)
        self.http.delete(self.url + "/_control/requests", timeout=10)
        seed = [{"brand": "acme", "country": "ES", "email": e} for e in emails]
        self.http.post(self.url + "/_control/seed", json=seed, timeout=60).raise_for_status()

    def arrivals(self) -> dict[str, float]:
        """Idempotency-Key -> time the stand-in answered 200 (applied)."""
        doc = self.http.get(self.url + "/_control/requests", timeout=60).json()
        return {r["headers"].get("Idempotency-Key"): r["at"] for r in doc
                if r["status"] == 200 and r["method"] == "POST"}

    # workers
    def start_worker(self, kind: str, pool: str, concurrency: int,
                     processes: int = 1, nice: int = 0) -> Workers:
        """Worker processes as deployed: task events on (celeryconfig), and the baseline
        with `-E` so both pay for them; `task_events=False` turns them off for both."""
        app, queue = ("relay", "homeria") if kind == "relay" else ("bench_sync:baseline",
                                                                   BASELINE_QUEUE)
        env = dict(self.env, DB_POOL_MAX=str(max(concurrency, 2)))
        events = getattr(self.args, "task_events", True)
        procs = []
        for i in range(processes):
            cmd = worker_argv(queue, pool=pool, concurrency=concurrency, app=app,
                              name=f"bench-{kind}-{i}-{uuid.uuid4().hex[:6]}@%h",
                              loglevel="WARNING", nice=nice,
                              # the plain baseline, like for like
                              extra=("-E",) if kind != "relay" and events else ())
            if kind == "relay" and not events:   # override celeryconfig in this process only
                at = cmd.index(sys.executable)
                cmd[at:at + 3] = [sys.executable, "-c", "import celeryconfig as c; "
                           "c.worker_send_task_events = False; "
                           "from celery.__main__ import main; main()"]
            procs.append(Process(cmd, env, self.workdir / f"worker-{kind}-{pool}-{i}.log"))
        return Workers(procs)


class Workers:
    """One or more worker processes consuming the same queue, stopped together."""

    def __init__(self, procs: list[Process]) -> None:
        self.procs = procs

    def cpu_s(self) -> float:
        return sum(group_cpu_s(proc.pid) for proc in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()


def pool_label(pool: str, concurrency: int, processes: int = 1) -> str:
    return f"{processes}x {pool} -c{concurrency}" if processes > 1 else f"{pool} -c{concurrency}"


def parse_pool(label: str) -> tuple[str, int, int]:
    processes = 1
    if "x " in label:
        count, label = label.split("x ", 1)
        processes = int(count)
    pool, concurrency = label.split(" -c")
    return pool, int(concurrency), processes


def load_avg() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def wait_for(predicate, timeout: float, what: str) -> None:
    wait_until(predicate, timeout, 0.2, what)


def redis_idle(queue: str) -> bool:
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        return client.llen(queue) == 0 and client.hlen("unacked") == 0
    finally:
        client.close()


def final_count(ids: list[uuid.UUID]) -> int:
    from relay.db import connection

    with connection() as conn:
        n = conn.execute("""SELECT count(*) AS n FROM email_changes WHERE id = ANY(%s)
                            AND state IN ('synced', 'superseded', 'dead')""",
                         (ids,)).fetchone()["n"]
        conn.commit()
    return int(n)


# -- the runs ---------------------------------------------------------------------------
def emails_for(tag: str, n: int) -> list[str]:
    return [f"{tag}-{i}@bench.example.com" for i in range(n)]


def throughput_baseline(b: Bench, n: int, concurrency: int) -> dict:
    olds = emails_for("base", n)
    b.reset_standin(olds)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with baseline.producer_or_acquire() as producer:
        for i, old in enumerate(olds):
            baseline_post.apply_async(args=[{
                "change_id": str(uuid.uuid4()), "current_email": old,
                "new_email": f"base-new-{i}@bench.example.com", "brand": "acme",
                "country": "ES", "requested_at": now.isoformat()}], producer=producer,
                queue=BASELINE_QUEUE)
    enqueue_s = time.perf_counter() - started
    worker = b.start_worker("baseline", "threads", concurrency)
    try:
        wait_for(lambda: redis_idle(BASELINE_QUEUE) and len(b.arrivals()) >= n, 120,
                 "the baseline to drain")
    finally:
        worker.stop()
    return _throughput(BASELINE_RUN, f"threads -c{concurrency}", n, enqueue_s,
                       list(b.arrivals().values()))


def throughput_relay(b: Bench, n: int, pool: str, concurrency: int,
                     processes: int = 1) -> dict:
    from sync_worker import enqueue_email_change

    olds = emails_for(f"{pool}", n)
    b.reset_standin(olds)
    started = time.perf_counter()
    ids = [enqueue_email_change(f"{pool}-{i}", old, f"{pool}-new-{i}@bench.example.com",
                                "acme", "ES").change_id for i, old in enumerate(olds)]
    enqueue_s = time.perf_counter() - started
    worker = b.start_worker("relay", pool, concurrency, processes)
    try:
        wait_for(lambda: final_count(ids) >= n, 180, f"relay ({pool}) to drain")
    finally:
        worker.stop()
    arrivals = b.arrivals()
    return _throughput(RELAY_RUN, pool_label(pool, concurrency, processes), n, enqueue_s,
                       [arrivals[str(i)] for i in ids if str(i) in arrivals])


def _throughput(name: str, pool: str, n: int, enqueue_s: float, times: list[float]) -> dict:
    span = max(times) - min(times) if len(times) > 1 else float("nan")
    return {"run": name, "pool": pool, "n": n, "applied": len(times),
            "enqueue_per_s": round(n / enqueue_s), "throughput_per_s": round((len(times) - 1)
                                                                           / span, 1)}


def latency_relay(b: Bench, rate: float, duration: float, pool: str, concurrency: int,
                  processes: int = 1) -> dict:
    from sync_worker import enqueue_email_change

    n = int(rate * duration)
    olds = emails_for(f"lat-{pool}", n + 1)
    b.reset_standin(olds)
    worker = b.start_worker("relay", pool, concurrency, processes)
    try:
        warm = enqueue_email_change("lat-warm", olds[-1], "lat-warm-new@bench.example.com",
                                    "acme", "ES").change_id
        wait_for(lambda: final_count([warm]) == 1, 60, "the worker to start")
        sent: dict[str, float] = {}

        def one(i: int) -> None:
            t0 = time.time()
            cid = enqueue_email_change(f"lat-{pool}-{i}", olds[i],
                                       f"lat-{pool}-new-{i}@bench.example.com", "acme",
                                       "ES").change_id
            sent[str(cid)] = t0

        # support tools call the producer from many processes; a few threads offer the rate
        cpu0, mine0, load0 = worker.cpu_s(), time.process_time(), load_avg()
        with ThreadPoolExecutor(max_workers=8) as producers:
            started = time.perf_counter()
            for i in range(n):
                pause = started + i / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                producers.submit(one, i)
        offered_s = time.perf_counter() - started
        producer_cpu = time.process_time() - mine0
        ids = [uuid.UUID(k) for k in sent]
        wait_for(lambda: final_count(ids) >= n, 120, "the latency run to finish")
        worker_cpu = worker.cpu_s() - cpu0
    finally:
        worker.stop()
    arrivals = b.arrivals()
    lat = [(arrivals[k] - t0) * 1000 for k, t0 in sent.items() if k in arrivals]
    return {"run": "relay latency", "pool": pool_label(pool, concurrency, processes), "n": n,
            "applied": len(lat), "offered_per_s": round(n / offered_s, 1),
            "p50_ms": round(percentile(lat, 50), 1), "p95_ms": round(percentile(lat, 95), 1),
            "p99_ms": round(percentile(lat, 99), 1), "max_ms": round(max(lat), 1),
            "producer_cpu_ms": round(producer_cpu * 1000 / n, 2),
            "worker_cpu_ms": round(worker_cpu * 1000 / n, 2),
            "events": "on" if getattr(b.args, "task_events", True) else "off",
            "load_before_after": f"{load0} -> {load_avg()}"}


# -- main -------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparser("sync", __doc__)
    parser.add_argument("--n", type=int, default=2000, help="changes per throughput run")
    parser.add_argument("--rate", type=float, default=200, help="changes/s in the latency run")
    parser.add_argument("--duration", type=float, default=10, help="seconds of latency run")
    parser.add_argument("--latency-ms", type=float, default=20, help="stand-in latency")
    parser.add_argument("--threads", type=int, default=32,
                        help="threads pool concurrency of the baseline's one worker process")
    parser.add_argument("--relay-threads", type=int, default=8,
                        help="threads pool concurrency of each relay worker process")
    parser.add_argument("--processes", type=int, default=2,
                        help="relay worker processes (threads pool) sharing the queue")
    parser.add_argument("--prefork", type=int, default=12, help="prefork concurrency")
    parser.add_argument("--task-events", choices=("on", "off"), default="on",
                        help="task events for relay and the baseline alike (on: as deployed)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="baseline/relay throughput pairs, alternated")
    parser.add_argument("--prefork-n", type=int, default=800,
                        help="changes for the (slower) prefork run; 0 skips it")
    args = parser.parse_args(argv)
    args.task_events = args.task_events == "on"

    server, url, workdir = fresh_run("sync", HOMERIA_MAX_RPS="0")
    bench = Bench(args, workdir)
    bench.env["DATABASE_URL"] = url
    rows: list[dict] = []
    try:
        bench.start_standin()
        print(f"[bench] stand-in {bench.url} at {args.latency_ms:g} ms; logs in {workdir}",
              file=sys.stderr)
        for _ in range(args.rounds):   # alternate: the host is shared, load drifts
            rows.append(throughput_baseline(bench, args.n, args.threads))
            print(f"[bench] {rows[-1]}", file=sys.stderr)
            rows.append(throughput_relay(bench, args.n, "threads", args.relay_threads,
                                         args.processes))
            print(f"[bench] {rows[-1]}", file=sys.stderr)
        if args.prefork_n:
            rows.append(throughput_relay(bench, args.prefork_n, "prefork", args.prefork))
            print(f"[bench] {rows[-1]}", file=sys.stderr)
        best = max((r for r in rows if r["run"] != BASELINE_RUN),
                   key=lambda r: r["throughput_per_s"])
        latency = latency_relay(bench, args.rate, args.duration, *parse_pool(best["pool"]))
    finally:
        if bench.standin:
            bench.standin.stop()
        drop_database(server, url)
    base = mean(r["throughput_per_s"] for r in rows if r["run"] == BASELINE_RUN)
    ours = mean(r["throughput_per_s"] for r in rows if r["run"] == RELAY_RUN
                and r["pool"] == best["pool"])
    ratio = ours / base if base else float("nan")
    print()
    print_table(rows)
    print()
    print_table([latency])
    print()
    print(f"mean throughput: baseline {base:.1f}/s, relay {ours:.1f}/s ({best['pool']})")
    # the targets of the campaigns issue (task events on for both): ratio >= 0.9 and
    # p99 < 500 ms at 200 changes/s (the first issue asked 0.8 and 1 s)
    print(f"relay/baseline throughput ratio: {ratio:.2f} (target >= 0.90: "
          f"{'met' if ratio >= 0.9 else 'NOT met'}); best pool: {best['pool']}")
    print(f"p99 at {latency['offered_per_s']}/s: {latency['p99_ms']} ms (target < 500 ms: "
          f"{'met' if latency['p99_ms'] < 500 else 'NOT met'})")
    print(json.dumps({"throughput": rows, "latency": latency, "ratio": round(ratio, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
