"""`scripts/bench api`: the HTTP API beside the same work through the Python API.

In one run, against the Homeria stand-in at 20 ms and the sync worker as `scripts/run`
deploys it (two processes, threads -c8), with `relay serve` (API_WORKERS processes,
rate limit off):
1. email changes at --rate/s for --duration s, one request each, over HTTP: request
   latency (client send -> 202), enqueue -> Homeria applied (stand-in arrival), and the
   API processes' CPU per request (from /proc: a figure the host's load does not bend);
2. the same through `enqueue_email_change` in this process (call latency, enqueue ->
   Homeria, this process's CPU per call), rounds alternated;
3. --events order events as ONE application/x-ndjson request, events/s from send to 202;
   beside the same JSON Lines parsed and recorded through
   `notifications.intake.record_documents` in this process (what `relay enqueue
   order-event` does with a file), rounds alternated.

Needs DATABASE_URL and REDIS_URL (scripts/bench provides private ones). Creates and drops
its own database. Prints whether the targets were met.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from bench_sync import (  # noqa: E402 - after the path set-up
    Bench,
    emails_for,
    final_count,
    load_avg,
    wait_for,
)

from tests.support.bench import argparser, fresh_run, print_table  # noqa: E402
from tests.support.cpu import group_cpu as group_cpu_s  # noqa: E402
from tests.support.databases import drop_database  # noqa: E402
from tests.support.processes import Process, free_port  # noqa: E402
from tests.support.processes import start_api as start_serve  # noqa: E402
from tests.support.stats import percentile  # noqa: E402


def start_api(b: Bench, workers: int) -> tuple[Process, str]:
    env = dict(b.env, API_RATE_LIMIT_RPS="0", API_WORKERS=str(workers))
    return start_serve(free_port(), env, b.workdir / "api.log", ready_path="/readyz")


def steady(b: Bench, mode: str, rate: float, duration: float, api: str, key: str,
           api_pgid: int = 0) -> dict:
    """`rate` single email changes a second for `duration` s, by HTTP or Python.

    Latency counts from each call's scheduled moment (i / rate), not from when the load
    generator got round to it: a generator that falls behind on a busy host shows up in
    the figures instead of hiding the queue (coordinated omission)."""
    n = int(rate * duration)
    tag = f"{mode}-{uuid.uuid4().hex[:4]}"
    olds = emails_for(tag, n)
    b.reset_standin(olds)
    changes = [{"customer_id": f"{tag}-{i}", "current_email": olds[i],
                "new_email": f"{tag}-new-{i}@bench.example.com", "brand": "acme",
                "country": "ES"} for i in range(n)]
    load0 = load_avg()
    cpu0 = group_cpu_s(api_pgid) if mode == "http" else 0.0
    mine0 = time.process_time()
    if mode == "http":
        sent, call_ms, failed, offered_s = _run(_http_calls(api, key, changes, rate))
    else:
        sent, call_ms, failed, offered_s = _python_calls(changes, rate)
    mine = time.process_time() - mine0
    cpu = group_cpu_s(api_pgid) - cpu0 if mode == "http" else mine
    ids = [uuid.UUID(k) for k in sent]
    wait_for(lambda: final_count(ids) >= len(ids), 120, f"the {mode} run to finish")
    arrivals = b.arrivals()
    lat = [(arrivals[k] - t0) * 1000 for k, t0 in sent.items() if k in arrivals]
    return {"run": f"email changes, {'HTTP' if mode == 'http' else 'Python API'}", "n": n,
            "errors": len(failed), "offered_per_s": round(n / offered_s, 1),
            "call_p50_ms": round(percentile(call_ms, 50), 2),
            "call_p99_ms": round(percentile(call_ms, 99), 2),
            "cpu_ms_per_call": round(cpu * 1000 / max(1, len(sent)), 2),
            "loadgen_cpu_ms_per_call": (round(mine * 1000 / max(1, len(sent)), 2)
                                        if mode == "http" else ""),
            "homeria_p50_ms": round(percentile(lat, 50), 1),
            "homeria_p99_ms": round(percentile(lat, 99), 1), "applied": len(lat),
            "load_before_after": f"{load0} -> {load_avg()}"}


def _run(coro):
    try:
        import uvloop  # relay serve's own loop; cheaper than asyncio's for the generator too
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


async def _http_calls(api: str, key: str, changes: list[dict], rate: float,
                      connections: int = 16):
    """The load generator: one asyncio loop, kept-alive connections, requests written as
    prepared bytes. It shares the host with what it measures, so it is kept cheap
    (~0.1-0.2 ms of CPU a call; threads with http.client cost ~0.6 ms, requests ~1.6 ms)
    and its own CPU is reported beside the API's."""
    host, port = urlsplit(api).hostname, urlsplit(api).port
    free: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        free.put_nowait(await asyncio.open_connection(host, port))
    sent: dict[str, float] = {}
    call_ms: list[float] = []
    failed: list[str] = []
    head = (f"POST /v1/email-changes HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n").encode()

    async def one(fields: dict, due_wall: float, due: float) -> None:
        body = json.dumps(fields).encode()
        reader, writer = conn = await free.get()
        try:
            writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            status_line = await reader.readuntil(b"\r\n")
            length = 0
            while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            payload = await reader.readexactly(length)
        finally:
            free.put_nowait(conn)
        if status_line.split()[1] != b"202":
            failed.append(f"{status_line!r} {payload[:200]!r}")
            return
        call_ms.append((time.perf_counter() - due) * 1000)
        sent[json.loads(payload)["change_id"]] = due_wall

    wall0, started = time.time(), time.perf_counter()
    tasks = []
    for i, fields in enumerate(changes):
        pause = started + i / rate - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        tasks.append(asyncio.create_task(one(fields, wall0 + i / rate, started + i / rate)))
    offered_s = time.perf_counter() - started
    await asyncio.gather(*tasks)
    while not free.empty():
        free.get_nowait()[1].close()
    return sent, call_ms, failed, offered_s


def _python_calls(changes: list[dict], rate: float):
    from sync_worker import enqueue_email_change

    sent: dict[str, float] = {}
    call_ms: list[float] = []

    def one(fields: dict, due_wall: float, due: float) -> None:
        cid = str(enqueue_email_change(**fields).change_id)
        call_ms.append((time.perf_counter() - due) * 1000)
        sent[cid] = due_wall

    wall0 = time.time()
    with ThreadPoolExecutor(max_workers=16) as pool:   # callers in many processes
        started = time.perf_counter()
        for i, fields in enumerate(changes):
            pause = started + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            pool.submit(one, fields, wall0 + i / rate, started + i / rate)
        offered_s = time.perf_counter() - started
    return sent, call_ms, [], offered_s


def events(n: int, tag: str) -> list[dict]:
    return [{"event_id": f"{tag}-{i}", "type": "order_confirmed", "order_id": f"{tag}-SO-{i}",
             "occurred_at": "2026-11-30T09:00:00Z", "brand": "acme", "country": "ES",
             "locale": "es-ES",
             "customer": {"customer_id": f"C-{i}", "email": f"c{i}@bench.example.com",
                          "phone": "+34600000000", "channels": ["email", "sms"]},
             "order": {"number": f"{tag}-SO-{i}",
                       "items": [{"sku": "X1", "name": "Lamp", "qty": 1}]}}
            for i in range(n)]


def bulk(mode: str, n: int, api: str, key: str) -> dict:
    tag = f"bulk-{mode}-{uuid.uuid4().hex[:4]}"
    docs = events(n, tag)
    if mode == "http":
        body = "\n".join(json.dumps(d) for d in docs).encode()
        started = time.perf_counter()
        r = requests.post(api + "/v1/order-events", data=body, timeout=300,
                          headers={"Authorization": f"Bearer {key}",
                                   "Content-Type": "application/x-ndjson"})
        elapsed = time.perf_counter() - started
        if r.status_code != 202:
            raise SystemExit(f"bulk over HTTP failed: {r.status_code} {r.text[:500]}")
        summary = r.json()
        size = len(body)
    else:
        from notifications.intake import record_documents

        body = "\n".join(json.dumps(d) for d in docs).encode()
        started = time.perf_counter()   # from the same bytes, as relay enqueue order-event
        items = [(f"line {i}", json.loads(line))
                 for i, line in enumerate(body.decode().splitlines(), 1)]
        summary = record_documents(items)
        elapsed = time.perf_counter() - started
        size = None
    return {"run": f"{n} order events, {'HTTP ndjson' if mode == 'http' else 'Python'}",
            "new_events": summary["new_events"], "jobs": summary.get("jobs"),
            "seconds": round(elapsed, 2), "events_per_s": round(n / elapsed),
            "body_mb": round(size / 1e6, 1) if size else ""}


def main(argv: list[str] | None = None) -> int:
    parser = argparser("api", __doc__)
    parser.add_argument("--rate", type=float, default=200, help="email changes a second")
    parser.add_argument("--duration", type=float, default=10, help="seconds per steady run")
    parser.add_argument("--rounds", type=int, default=1, help="HTTP/Python pairs, alternated")
    parser.add_argument("--events", type=int, default=20_000, help="order events in the batch")
    parser.add_argument("--bulk-rounds", type=int, default=2,
                        help="HTTP/Python batch pairs, alternated")
    parser.add_argument("--api-workers", type=int, default=2, help="relay serve processes")
    parser.add_argument("--latency-ms", type=float, default=20, help="stand-in latency")
    parser.add_argument("--task-events", choices=("on", "off"), default="on",
                        help="the sync workers' task events (on: as deployed)")
    parser.add_argument("--worker-nice", type=int, default=0, choices=range(0, 20),
                        metavar="0-19", help="niceness of the sync workers")
    args = parser.parse_args(argv)
    args.task_events = args.task_events == "on"

    server, url, workdir = fresh_run("api", HOMERIA_MAX_RPS="0")
    bench = Bench(args, workdir)
    bench.env["DATABASE_URL"] = url
    rows: list[dict] = []
    procs: list = []
    try:
        from relay import apikeys

        key = apikeys.create("bench", "produce")
        bench.start_standin()
        workers = bench.start_worker("relay", "threads", 8, 2, nice=args.worker_nice)
        procs.append(workers)
        api_proc, api = start_api(bench, args.api_workers)
        procs.append(api_proc)
        print(f"[bench] relay serve at {api} ({args.api_workers} processes); logs in "
              f"{workdir}", file=sys.stderr)
        # warm both paths up at the measured rate, not counted: a process's first second
        # (imports, pool connections, the broker channel) is start-up, not steady state
        for mode in ("http", "python"):
            steady(bench, mode, args.rate, 2, api, key)
        for _ in range(args.rounds):
            for mode in ("http", "python"):
                rows.append(steady(bench, mode, args.rate, args.duration, api, key,
                                   api_proc.pid))
                print(f"[bench] {rows[-1]}", file=sys.stderr)
        bulk_rows = []
        for _ in range(args.bulk_rounds):   # alternated: the host is shared, load drifts
            for mode in ("http", "python"):
                bulk_rows.append(bulk(mode, args.events, api, key))
                print(f"[bench] {bulk_rows[-1]}", file=sys.stderr)
    finally:
        for proc in reversed(procs):
            proc.stop()
        if bench.standin:
            bench.standin.stop()
        drop_database(server, url)
    print()
    print_table(rows)
    print()
    print_table(bulk_rows)
    print()
    http = [r for r in rows if "HTTP" in r["run"]]
    p99 = max(r["call_p99_ms"] for r in http)
    homeria = max(r["homeria_p99_ms"] for r in http)
    eps = max(r["events_per_s"] for r in bulk_rows if "HTTP" in r["run"])
    print(f"HTTP request p99 {p99} ms (target < 20: {'met' if p99 < 20 else 'NOT met'}); "
          f"enqueue -> Homeria p99 {homeria} ms (target < 1000: "
          f"{'met' if homeria < 1000 else 'NOT met'}); bulk {eps} events/s over HTTP "
          f"(target >= 5000: {'met' if eps >= 5000 else 'NOT met'})")
    print(json.dumps({"steady": rows, "bulk": bulk_rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
