"""`scripts/bench notify --campaign N`: a campaign of N promotions beside a same-run
baseline (imported by bench_notify.py; the baseline's worker imports it as
`notify_campaign:baseline`).

1. baseline: a plain Celery app and task (below) that renders the same promotion email
   with relay's templates and sends it over a kept-alive SMTP connection, one message per
   task, no database — N tasks queued, then one worker process per core (threads, at the
   promotions worker's niceness) drains them; rate = N / (last accepted - first
   accepted) at the SMTP stand-in;
2. relay: `campaigns.service.create` + `start` (the audience recorded by the bulk intake,
   one worker per core) while the workers run as scripts/run lays them out, and order
   events arrive at --order-rate during the whole campaign; promotions/s from the rows'
   sent_at, transactional event→sent p50/p99 while the campaign ran, the promotions
   worker's CPU per promotion and its memory (RSS) when sending began and at the end.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BASELINE_QUEUE = "bench.campaign_baseline"


def _make_baseline():
    from celery import Celery

    app = Celery("bench_campaign_baseline", broker=os.environ.get("REDIS_URL", "redis://"))
    app.conf.update(task_serializer="json", accept_content=["json"], task_ignore_result=True,
                    worker_hijack_root_logger=False, task_default_queue=BASELINE_QUEUE,
                    broker_connection_retry_on_startup=True, worker_prefetch_multiplier=4)

    @app.task(name="bench.campaign_baseline_send", ignore_result=True)
    def send(notification_id: str, payload: dict) -> str:
        from notifications import service
        from notifications.campaigns.sending import _event
        from notifications.compose import compose

        message = compose("email", notification_id, _event(payload))
        return service.channels()["email"].send(message).provider_message_id

    return app, send


baseline, baseline_send = _make_baseline()


def _payload(i: int, run: str) -> dict:
    return {"event_id": f"campaign:bench-{run}:C-{i}", "type": "promotion",
            "occurred_at": "2026-11-30T12:00:00+00:00", "brand": "acme", "country": "ES",
            "locale": "es-ES", "expires": None,
            "customer": {"customer_id": f"C-{i}", "email": f"c{i}@example.com",
                         "channels": ["email"], "marketing_opt_in": True, "phone": None,
                         "push_token": None},
            "campaign": {"id": f"bench-{run}", "name": "Black Friday", "subject": "40% off",
                         "url": "https://shop.example/bf"}}


def _audience_line(i: int) -> tuple[str, dict]:
    return (f"line {i + 1}", {"customer_id": f"C-{i}", "email": f"c{i}@example.com",
                              "channels": ["email"], "marketing_opt_in": True,
                              "country": "ES", "locale": "es-ES"})


# -- measuring processes ----------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its threads (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _children(parent: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    kids.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def service_pids() -> dict[str, list[int]]:
    """PostgreSQL (the postmaster and its backends) and Redis of this run, by asking them."""
    import redis

    from relay.db import connection

    with connection() as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()["data_directory"]
        conn.commit()
    postmaster = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    redis_pid = int(client.info("server")["process_id"])
    client.close()
    return {"postgresql": [postmaster, *_children(postmaster)], "redis": [redis_pid]}


class CpuMeter:
    """CPU seconds per group of processes between start() and stop(): where a promotion's
    CPU goes across every process of the run, not only the worker's."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.spent: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        def safe(pid: int) -> float:
            try:
                return cpu_seconds(pid)
            except (OSError, ValueError, IndexError):
                return 0.0
        return {name: sum(safe(p) for p in pids) for name, pids in self.groups.items()}

    def start(self) -> None:
        self._begin, self._clock = self._read(), time.monotonic()

    def stop(self) -> None:
        end = self._read()
        self.spent = {name: end[name] - self._begin[name] for name in end}
        self.wall = time.monotonic() - self._clock

    def per_message_ms(self, n: int) -> str:
        parts = [f"{name} {self.spent[name] * 1000 / n:.2f}" for name in self.groups]
        return f"{sum(self.spent.values()) * 1000 / n:.2f} (" + ", ".join(parts) + ")"


def smtp_count(http_url: str) -> int:
    return requests.get(f"{http_url}/_control/messages/count", timeout=10).json()["count"]


def smtp_clear(http_url: str) -> None:
    requests.delete(f"{http_url}/_control/messages", timeout=60).raise_for_status()


# -- the phases -------------------------------------------------------------------------
def run_baseline(bench, n: int) -> dict:
    """N plain tasks queued, then drained by one threads worker per core."""
    import subprocess

    smtp_clear(bench.smtp_http)
    run = bench.run
    with baseline.producer_or_acquire() as producer:
        for i in range(n):
            baseline_send.apply_async(args=[f"base-{run}-{i}", _payload(i, run)],
                                      producer=producer, queue=BASELINE_QUEUE)
    procs = []
    for k in range(os.cpu_count() or 1):
        log = open(ROOT / ".relay" / f"bench-baseline-{k}.log", "wb")
        procs.append(subprocess.Popen(
            ["nice", "-n", str(bench.args.promo_nice),
             sys.executable, "-m", "celery", "-A", "notify_campaign:baseline", "worker",
             "-Q", BASELINE_QUEUE, "-P", "threads", "-c", str(bench.args.baseline_threads),
             "-n", f"bench-baseline-{k}-{run}@bench", "--without-mingle", "--without-gossip",
             "-l", "WARNING"], cwd=ROOT / "scripts",
            env=dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'scripts'}"),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    sink = bench.standins[0].pid
    meter = CpuMeter({"workers": [p.pid for p in procs], "smtp stand-in": [sink],
                      **service_pids()})
    try:
        first = _wait_count(bench.smtp_http, 1, 120)
        meter.start()
        last = _wait_count(bench.smtp_http, n, bench.args.drain_timeout)
        meter.stop()
        cpu = meter.spent["workers"]
        sink_ms = meter.spent["smtp stand-in"] * 1000 / n
    finally:
        import signal

        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)
    return {"rate": n / max(last - first, 1e-9), "cpu_ms": cpu * 1000 / n, "sink_ms": sink_ms,
            "all_ms": meter.per_message_ms(n),
            "layout": f"{len(procs)} x threads -c {bench.args.baseline_threads}"}


def _wait_count(http_url: str, n: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while smtp_count(http_url) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: only {smtp_count(http_url)} of {n} emails arrived")
        time.sleep(0.05)
    return time.monotonic()


def _sent(campaign_id: str) -> int:
    """Sent rows of the campaign (a promotion recipient has at most one): an index scan
    of the sent rows alone; the recipients' grouped count (`show`) reads every row of the
    campaign, ~10 s of a PostgreSQL core at 1,000,000 recipients in full flow."""
    from notifications.campaigns import store
    from relay.db import transaction

    with transaction() as tx:
        return store.rows_in_state(tx, campaign_id, "sent")


def _wait_sent(bench, campaign_id: str, n: int, started: float) -> None:
    """Until all n promotions are sent. The observer must not load what it measures:
    while the SMTP stand-in has received fewer than n emails (promotions and order mail
    together) it alone is polled, over HTTP, and PostgreSQL only after that."""
    deadline = time.monotonic() + bench.args.drain_timeout
    poll_s = 0.5 if n <= 100_000 else 2.0
    while True:
        at_standin = smtp_count(bench.smtp_http)
        if at_standin >= n and _sent(campaign_id) >= n:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: campaign did not finish: {_sent(campaign_id):,} of "
                             f"{n:,} sent")
        if n > 100_000:
            print(f"[bench] {at_standin:,} emails at the stand-in (of {n:,} promotions and "
                  f"the order mail) after {time.perf_counter() - started:.0f} s",
                  file=sys.stderr, flush=True)
        time.sleep(poll_s)


def _latency_by_phase(tag: str, intake_done: float) -> dict[str, str]:
    """Transactional event→sent p50 / p99 (s) for events received while the audience was
    being recorded, and after."""
    from relay.db import connection

    with connection() as conn:
        rows = conn.execute(
            """SELECT e.received_at < to_timestamp(%s) AS during,
                      percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (
                          ORDER BY extract(epoch FROM n.sent_at - e.received_at)) AS p
               FROM notifications n JOIN order_events e USING (event_id)
               WHERE n.state = 'sent' AND e.event_id LIKE %s GROUP BY 1""",
            (intake_done, f"bench-{tag}-%")).fetchall()
        # the split says where a bad minute's time went: waiting (received -> the worker
        # started the attempt that sent it) or the provider call itself
        minutes = conn.execute(
            """SELECT floor(extract(epoch FROM e.received_at - to_timestamp(%s)) / 60) AS m,
                      count(*) AS n, percentile_cont(0.99) WITHIN GROUP (
                          ORDER BY extract(epoch FROM n.sent_at - e.received_at)) AS p99,
                      percentile_cont(0.99) WITHIN GROUP (
                          ORDER BY extract(epoch FROM a.started_at - e.received_at)) AS wait99,
                      percentile_cont(0.99) WITHIN GROUP (
                          ORDER BY a.latency_ms / 1000.0) AS call99
               FROM notifications n JOIN order_events e USING (event_id)
               JOIN attempts a ON a.entity_id = n.id AND a.outcome = 'sent'
               WHERE n.state = 'sent' AND e.event_id LIKE %s GROUP BY 1 ORDER BY 1""",
            (intake_done, f"bench-{tag}-%")).fetchall()
        conn.commit()
    if len(minutes) > 2:   # where a long run's tail is: transactional p99 minute by minute
        print("[bench] transactional p99 by minute from the end of the intake: " + ", ".join(
            f"{int(r['m']):+d}: {r['p99']:.2f} s (wait {r['wait99']:.2f}, call {r['call99']:.2f})"
            for r in minutes), file=sys.stderr)
    return {("intake" if r["during"] else "sending"): " / ".join(f"{x:.3f}" for x in r["p"])
            for r in rows}


def run_relay(bench, n: int) -> dict:
    from notifications import record_order_event
    from notifications.campaigns import service
    from relay.db import connection

    smtp_clear(bench.smtp_http)
    cid = f"bench-{bench.run}"
    service.create({"id": cid, "name": "Black Friday", "subject": "40% off",
                    "url": "https://shop.example/bf", "brand": "acme"})
    promos = bench.workers[bench.args.processes:]   # after the transactional workers
    promo = promos[0].pid
    mem0, cpu0 = rss_mb(promo), sum(cpu_seconds(p.pid) for p in promos)
    meter = CpuMeter({"promotions workers": [p.pid for p in promos],
                      "transactional workers": [p.pid for p in
                                                bench.workers[:bench.args.processes]],
                      "smtp stand-in": [bench.standins[0].pid], **service_pids(),
                      "bench (orders)": [os.getpid()]})
    tag = bench.run + "c"
    stop = threading.Event()
    orders_sent = [0]

    def orders() -> None:   # order updates at --order-rate for as long as the campaign runs
        from bench_notify import _event

        start, i = time.perf_counter(), 0
        while not stop.is_set():
            delay = start + i / bench.args.order_rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            record_order_event(_event("shipped", i, tag))
            i += 1
        orders_sent[0] = i

    feeder = threading.Thread(target=orders, daemon=True)
    started = time.perf_counter()
    if bench.args.order_rate > 0:
        feeder.start()
    result = service.start(cid, [_audience_line(i) for i in range(n)])
    intake_s = time.perf_counter() - started
    intake_done = time.time()
    assert result.new_events == n, result
    meter.start()   # from here on the CPU is the sending's (and the order traffic's)
    sent_before = _sent(cid)
    try:
        _wait_sent(bench, cid, n, started)
    finally:
        stop.set()
    total_s = time.perf_counter() - started
    meter.stop()
    if feeder.is_alive():
        feeder.join()
    cpu = sum(cpu_seconds(p.pid) for p in promos) - cpu0
    mem1 = rss_mb(promo)
    with connection() as conn:
        span = conn.execute(
            """SELECT extract(epoch FROM max(sent_at) - min(sent_at)) AS s,
                      count(*) AS n FROM notifications
               WHERE campaign_id = %s AND state = 'sent'""", (cid,)).fetchone()
        conn.commit()
    bench._wait_drained(tag, timeout=60)
    at_standin = smtp_count(bench.smtp_http)
    lat = bench._latencies("true", tag)
    phases = _latency_by_phase(tag, intake_done)
    return {"phases": phases, "rate": n / float(span["s"]), "intake_s": intake_s,
            "total_s": total_s,
            "cpu_ms": cpu * 1000 / n, "mem": (mem0, mem1), "lat": lat,
            "orders": orders_sent[0], "at_standin": at_standin, "sent_rows": span["n"],
            "all_ms": meter.per_message_ms(max(1, n - sent_before)),
            "load": os.getloadavg()}


def campaign(bench) -> None:
    from tests.support.stats import p50_p99_max

    n = bench.args.campaign
    # the baseline's rate does not depend on N: a 1,000,000 campaign is compared with a
    # shorter same-run baseline (--baseline-n) rather than half an hour of it
    base_n = n if bench.args.baseline_n is None else bench.args.baseline_n
    base = run_baseline(bench, base_n)
    ours = run_relay(bench, n)
    lat = ours["lat"]
    bench.rows += [
        ("campaign: recipients / baseline emails", f"{n:,} / {base_n:,}"),
        (f"baseline (plain Celery, {base['layout']}, nice {bench.args.promo_nice}): emails/s",
         f"{base['rate']:,.0f}"),
        ("baseline: worker CPU per email (ms)", f"{base['cpu_ms']:.2f}"),
        ("SMTP stand-in: CPU per email received (ms, baseline phase)", f"{base['sink_ms']:.2f}"),
        ("relay campaign: promotions/s (first→last sent)", f"{ours['rate']:,.0f}"),
        ("relay / baseline ratio", f"{ours['rate'] / base['rate']:.2f}"),
        ("relay: intake (s) / start→all sent (s)",
         f"{ours['intake_s']:.1f} / {ours['total_s']:.1f}"),
        ("relay: sent rows / emails at the stand-in (incl. order mail)",
         f"{ours['sent_rows']:,} / {ours['at_standin']:,}"),
        ("relay: promotions workers' CPU per promotion (ms)", f"{ours['cpu_ms']:.2f}"),
        ("baseline: CPU per email, all processes (ms)", base["all_ms"]),
        ("relay: CPU per promotion, all processes, intake done→all sent (ms)",
         ours["all_ms"]),
        ("load average (1, 5, 15 min) at the end", " ".join(f"{x:.1f}" for x in ours["load"])),
        ("relay: promotions worker RSS start → end (MB)",
         f"{ours['mem'][0]:.0f} → {ours['mem'][1]:.0f}"),
        (f"during the campaign: order events at {bench.args.order_rate:.0f}/s",
         f"{ours['orders']:,}"),
        ("during the campaign: transactional p50 / p99 / max (s)",
         p50_p99_max(lat)),
        ("  of which while the audience was recorded: p50 / p99 (s)",
         ours["phases"].get("intake", "-")),
        ("  of which after: p50 / p99 (s)", ours["phases"].get("sending", "-")),
    ]
