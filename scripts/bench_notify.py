"""Order-notification benchmark: intake rate, steady-state latency, priority under a burst.

    scripts/bench notify [--intake 20000] [--steady-seconds 30] [--rate 100]
                         [--promotions 100000] [--orders 10000] [--order-rate 100]
    scripts/bench notify --campaign 100000 [--order-rate 100] [--promo-processes 2]

Needs DATABASE_URL / REDIS_URL (scripts/bench provides private ones). Creates a throwaway
database on that server, starts the SMTP/SMS/push stand-ins (one process each) with 20 ms
latency and real workers laid out as scripts/run starts them (--processes transactional
workers on notify.transactional + notify.expedite; two promotions workers, niced), then
measures:

1. bulk intake: `record_order_events` in batches in one process (validate, COPY,
   outbox.add_many, one batched publish), with the time split; then the same through
   `notifications.bulk.record_bulk` — what `relay enqueue order-event` runs — with one
   worker process per core;
2. event→sent p50/p99 (sent_at - received_at) at a steady --rate events/s;
3. --promotions queued at once, then --orders order events at --order-rate while the
   promotions drain: transactional p50/p99 during the burst, and total drain time.

With --campaign N only the campaign phase runs (scripts/notify_campaign.py): N promotions
as a campaign beside a plain Celery baseline sending the same email one per task.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.bench import argparser  # noqa: E402
from tests.support.databases import (  # noqa: E402
    create_database,
    drop_database,
    flush_redis,
    require_env,
)
from tests.support.processes import (  # noqa: E402
    Process,
    start_standin,
    stop_all,
    wait_workers_answer,
    worker_argv,
)
from tests.support.stats import p50_p99_max, percentile  # noqa: E402

QUEUES = ("notify.transactional", "notify.expedite", "notify.promotions")


def _event(kind: str, n: int, run: str) -> dict:
    order = f"SO-{run}-{kind[:2]}-{n}"
    doc = {
        "event_id": f"bench-{run}-{kind}-{n}", "type": kind, "order_id": order,
        "occurred_at": datetime.now(UTC).isoformat(), "brand": "acme", "country": "ES",
        "locale": "es-ES",
        "customer": {"customer_id": f"C-{n}", "email": f"c{n}@example.com",
                     "phone": "+34600000000", "channels": ["email", "sms"],
                     "marketing_opt_in": True},
        "order": {"number": order, "items": [{"sku": "X1", "name": "Lamp", "qty": 1}],
                  "carrier": "UPS", "tracking_url": f"https://t.example/{order}"},
    }
    if kind == "promotion":
        del doc["order"], doc["order_id"]
        doc["campaign"] = {"id": "bf", "name": "Black Friday", "subject": "40% off",
                           "url": "https://shop.example/bf"}
    return doc


def _paced(fn, docs: list[dict], rate: float, threads: int = 4) -> float:
    """Call fn(doc) for each doc at `rate` per second from a few threads; returns the rate
    achieved (one publish per call, so one thread alone tops out below 100/s here)."""
    from concurrent.futures import ThreadPoolExecutor

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        futures = []
        for i, doc in enumerate(docs):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(fn, doc))
        for future in futures:
            future.result()
    return len(docs) / (time.perf_counter() - start)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run = uuid.uuid4().hex[:6]
        self.rows: list[tuple[str, str]] = []
        self.workers: list[Process] = []
        self.standins: list[Process] = []

    # -- set-up ------------------------------------------------------------------------
    def setup(self) -> None:
        self.server = require_env("DATABASE_URL", "REDIS_URL")
        os.environ["DATABASE_URL"] = create_database(self.server, "relay_bench")
        os.environ.update({"PROMO_QUIET_HOURS": "off", "LOG_LEVEL": "WARNING",
                           "HOMERIA_MAX_RPS": "0"})
        from relay.settings import reset_settings_cache

        reset_settings_cache()
        self._flush_queues()
        smtp, sms, push = (self._standin(name) for name in ("smtp", "sms", "push"))
        self.smtp_http = smtp["http"]
        os.environ.update({"SMTP_URL": f"smtp://{smtp['smtp']}", "SMS_API_URL": sms["url"],
                           "PUSH_API_URL": push["url"]})
        reset_settings_cache()

    def _standin(self, name: str) -> dict:
        """A stand-in in its own process, as scripts/run starts it: in this process its
        work would share one interpreter lock with the producer's threads, and the time an
        SMTP reply spent waiting for that lock would count against relay's latency."""
        log = ROOT / ".relay" / f"bench-standin-{name}.log"
        log.parent.mkdir(exist_ok=True)
        proc, ready = start_standin(name, "--latency-ms", str(self.args.latency_ms),
                                    *(["--http-port", "0"] if name == "smtp" else []),
                                    log_path=log)
        self.standins.append(proc)
        return ready

    def _flush_queues(self) -> None:
        flush_redis(os.environ["REDIS_URL"], *QUEUES)

    def start_workers(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        logs = ROOT / ".relay"
        logs.mkdir(exist_ok=True)
        # niceness as scripts/run starts them: promotions yield the CPU to order updates
        tx = [(f"tx{i + 1}", "notify.transactional,notify.expedite", self.args.concurrency, 0)
              for i in range(self.args.processes)]
        nodes = []
        promo = [(f"promo{i + 1}" if i else "promo", "notify.promotions",
                  self.args.promo_concurrency, self.args.promo_nice)
                 for i in range(self.args.promo_processes)]
        for name, queues, threads, nice in (*tx, *promo):
            nodes.append(f"bench-{name}-{self.run}@bench")
            self.workers.append(Process(
                worker_argv(queues, concurrency=threads, name=nodes[-1], loglevel="WARNING",
                            nice=nice),
                dict(env, DB_POOL_MAX=str(threads)), logs / f"bench-worker-{name}.log"))
        self._wait_for_workers(nodes)

    def _wait_for_workers(self, nodes: list[str], timeout: float = 60) -> None:
        """Every worker answers a ping, i.e. consumes its queues, before anything is timed."""
        wait_workers_answer(nodes, self.workers, timeout)

    def teardown(self) -> None:
        # workers first (a warm shutdown may still call a stand-in), then the stand-ins;
        # each runs in its own session, so its whole process group goes
        stop_all(self.workers)
        stop_all(self.standins)
        if getattr(self, "server", None):
            drop_database(self.server, os.environ["DATABASE_URL"])
            self._flush_queues()
            os.environ["DATABASE_URL"] = self.server

    # -- phases ------------------------------------------------------------------------
    def intake(self) -> None:
        """Bulk intake twice over fresh events: in one process (the split shows where the
        time goes), then as `relay enqueue order-event` does it (notifications/bulk.py:
        validate everything, then write, one worker process per core)."""
        from notifications import record_order_events
        from notifications.bulk import default_jobs, record_bulk
        from notifications.models import parse_event
        from relay import outbox

        n, batch = self.args.intake, self.args.batch
        docs = [_event("shipped", i, self.run + "i") for i in range(n)]
        publish_s = [0.0]
        original = outbox.publish_now

        def timed(pubs):
            t = time.perf_counter()
            try:
                return original(pubs)
            finally:
                publish_s[0] += time.perf_counter() - t

        outbox.publish_now = timed
        started = time.perf_counter()
        validate_s = 0.0
        for i in range(0, n, batch):
            t = time.perf_counter()
            events = [parse_event(d) for d in docs[i:i + batch]]
            validate_s += time.perf_counter() - t
            record_order_events(events)
        total = time.perf_counter() - started
        outbox.publish_now = original
        self._reset_intake()
        jobs = self.args.jobs or default_jobs(n)
        items = [(f"line {i + 1}", d) for i, d in enumerate(
            _event("shipped", i, self.run + "b") for i in range(n))]
        started = time.perf_counter()
        result = record_bulk(items, jobs=jobs, batch=batch)
        bulk_s = time.perf_counter() - started
        assert result.new_events == n, result
        self._reset_intake()
        self.rows += [
            ("bulk intake: events", f"{n:,} in batches of {batch:,}"),
            (f"bulk intake, {jobs} worker processes (relay enqueue order-event): events/s",
             f"{n / bulk_s:,.0f}"),
            ("bulk intake, one process: events/s (validate+write+publish)",
             f"{n / total:,.0f}"),
            ("bulk intake, one process: time split validate / write / publish (s)",
             f"{validate_s:.2f} / {total - validate_s - publish_s[0]:.2f} / {publish_s[0]:.2f}"),
        ]

    def _reset_intake(self) -> None:
        from relay.db import connection

        with connection() as conn:  # not part of the next phases
            conn.execute("TRUNCATE order_events, notifications, outbox, attempts, inbox")
            conn.commit()
        self._flush_queues()

    def _latencies(self, event_type_sql: str, run_tag: str) -> list[float]:
        from relay.db import connection

        with connection() as conn:
            rows = conn.execute(
                f"""SELECT extract(epoch FROM n.sent_at - e.received_at) AS s
                    FROM notifications n JOIN order_events e USING (event_id)
                    WHERE n.state = 'sent' AND {event_type_sql} AND e.event_id LIKE %s""",
                (f"bench-{run_tag}-%",)).fetchall()
            conn.commit()
        return [float(r["s"]) for r in rows]

    def _split(self, event_type_sql: str, run_tag: str) -> str:
        """Where a sent notification's time went, p50 / p99 in seconds: waiting (event
        received → the worker started the attempt that sent it: commit, publish, broker,
        a free worker thread) and the provider call itself."""
        from relay.db import connection

        with connection() as conn:
            row = conn.execute(
                f"""SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (
                              ORDER BY extract(epoch FROM a.started_at - e.received_at)) AS wait,
                           percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (
                              ORDER BY a.latency_ms / 1000.0) AS call
                    FROM notifications n JOIN order_events e USING (event_id)
                    JOIN attempts a ON a.entity_id = n.id AND a.outcome = 'sent'
                    WHERE n.state = 'sent' AND {event_type_sql} AND e.event_id LIKE %s""",
                (f"bench-{run_tag}-%",)).fetchone()
            conn.commit()
        if not row["wait"]:
            return "-"
        (w50, w99), (c50, c99) = row["wait"], row["call"]
        return f"{w50:.3f} / {w99:.3f}  |  {c50:.3f} / {c99:.3f}"

    def _open(self, run_tag: str) -> int:
        from relay.db import connection

        with connection() as conn:
            row = conn.execute(
                """SELECT count(*) AS n FROM notifications WHERE event_id LIKE %s
                   AND state IN ('pending', 'sending')""", (f"bench-{run_tag}-%",)).fetchone()
            conn.commit()
        return int(row["n"])

    def _wait_drained(self, run_tag: str, timeout: float) -> float:
        start = time.perf_counter()
        while self._open(run_tag) and time.perf_counter() - start < timeout:
            time.sleep(0.5)
        return time.perf_counter() - start

    def steady(self) -> None:
        from notifications import record_order_event

        tag, rate, seconds = self.run + "s", self.args.rate, self.args.steady_seconds
        total = int(rate * seconds)
        docs = [_event("shipped", i, tag) for i in range(total)]
        achieved = _paced(record_order_event, docs, rate)
        left = self._wait_drained(tag, timeout=120)
        lat = self._latencies("true", tag)
        self.rows += [
            ("steady: events (rate achieved)", f"{total:,} at {achieved:,.0f}/s"),
            ("steady: event→sent p50 / p99 / max (s)",
             p50_p99_max(lat)),
            ("steady: sent / drain after last event", f"{len(lat):,} / {left:.1f} s"),
            ("steady: waiting | provider call p50 / p99 (s)", self._split("true", tag)),
        ]

    def burst(self) -> None:
        from notifications import record_order_event, record_order_events

        tag = self.run + "b"
        promos = [_event("promotion", i, tag) for i in range(self.args.promotions)]
        start = time.perf_counter()
        for i in range(0, len(promos), self.args.batch):
            record_order_events(promos[i:i + self.args.batch])
        queued_s = time.perf_counter() - start
        orders = self.args.orders
        docs = [_event("shipped", i, tag) for i in range(orders)]
        order_rate = _paced(record_order_event, docs, self.args.order_rate)
        self._wait_drained(tag, timeout=self.args.drain_timeout)
        drain = time.perf_counter() - start
        lat = self._latencies("e.type <> 'promotion'", tag)
        promo_lat = self._latencies("e.type = 'promotion'", tag)
        self.rows += [
            ("burst: promotions queued (s)", f"{len(promos):,} in {queued_s:.1f}"),
            ("burst: order events during the drain", f"{orders:,} at {order_rate:,.0f}/s"),
            ("burst: transactional p50 / p99 / max (s)",
             p50_p99_max(lat)),
            ("burst: transactional waiting | provider call p50 / p99 (s)",
             self._split("e.type <> 'promotion'", tag)),
            ("burst: promotions sent, p50 event→sent (s)",
             f"{len(promo_lat):,}, {percentile(promo_lat, 50):.1f}"),
            ("burst: total drain time (s)", f"{drain:.1f}"
             + ("" if not self._open(tag) else f" (TIMED OUT, {self._open(tag)} open)")),
        ]

    def report(self) -> None:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"notifications benchmark (stand-ins at {self.args.latency_ms} ms,"
                            f" workers -P threads: transactional {self.args.processes}"
                            f" x -c {self.args.concurrency},"
                            f" promotions -c {self.args.promo_concurrency}"
                            f" at nice {self.args.promo_nice})")
        table.add_column("measure")
        table.add_column("result", justify="right")
        for name, value in self.rows:
            table.add_row(name, value)
        Console().print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparser("notify", __doc__)
    parser.add_argument("--intake", type=int, default=20_000, help="events for bulk intake")
    parser.add_argument("--batch", type=int, default=5_000, help="events per bulk call")
    parser.add_argument("--jobs", type=int, default=0,
                        help="worker processes for bulk intake (0: one per core)")
    parser.add_argument("--rate", type=float, default=100, help="steady events/s")
    parser.add_argument("--steady-seconds", type=float, default=30)
    parser.add_argument("--promotions", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--order-rate", type=float, default=100,
                        help="order events/s sent while the promotions drain")
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--processes", type=int, default=2,
                        help="transactional worker processes (scripts/run: 2)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="threads per transactional worker (scripts/run: 16)")
    parser.add_argument("--promo-concurrency", type=int, default=8,
                        help="promotions worker threads (scripts/run: 8)")
    parser.add_argument("--promo-nice", type=int, default=10, choices=range(0, 20),
                        metavar="0-19", help="niceness of the promotions worker (scripts/run: 10)")
    parser.add_argument("--drain-timeout", type=float, default=1800)
    parser.add_argument("--skip", default="", help="comma list of phases: intake,steady,burst")
    parser.add_argument("--campaign", type=int, default=0, metavar="N",
                        help="only the campaign phase: N promotions as a campaign beside a "
                             "plain Celery baseline (scripts/notify_campaign.py)")
    parser.add_argument("--baseline-threads", type=int, default=32,
                        help="threads per baseline worker process (one process per core)")
    parser.add_argument("--baseline-n", type=int, default=None, metavar="N",
                        help="emails the baseline sends (default: as many as --campaign)")
    parser.add_argument("--promo-processes", type=int, default=2,
                        help="promotions worker processes (scripts/run: 2)")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    if args.campaign:
        skip |= {"intake", "steady", "burst"}
    bench = Bench(args)
    try:
        bench.setup()
        if "intake" not in skip:
            bench.intake()
        bench.start_workers()
        if "steady" not in skip:
            bench.steady()
        if "burst" not in skip:
            bench.burst()
        if args.campaign:
            from notify_campaign import campaign

            campaign(bench)
    finally:
        bench.teardown()
    bench.report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
