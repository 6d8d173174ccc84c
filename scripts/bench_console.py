"""`scripts/bench console`: does every console page (and its JSON) answer in < 300 ms with
real volumes?

    scripts/bench console [--notifications 1000000] [--changes 100000] [--dead 10000]
                          [--runs 10]

Builds, with generate_series (no Python loops): --notifications order events and their
notifications over 30 days (the SLA benchmark's rows: ~95 % on time, 1,000 unsent) with
one attempt each; --changes email changes over 30 days (most synced, some pending, some
dead) with their attempts; --dead dead letters (both kinds, several reasons, 80 % open)
with audit events; then rolls the closed days up as the beat does, starts `relay serve`
(one process), signs in with an operate key and times each page --runs times after one
warm-up request. Prints the first (cold: nothing cached) request's time, median and max
per page, and whether each median is < 300 ms. The heavy aggregates (on-time rates, the
status's 24-hour section, trend series, monthly reports) are recomputed in the background
(relay/console/cache.py), so after the first request a page pays only the live reads.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from bench_sla import BUILD_EVENTS, BUILD_NOTIFICATIONS, BUILD_OUTBOX  # noqa: E402
from bench_sync import Proc, create_database, drop_database, free_port  # noqa: E402

TARGET_MS = 300

NOTIFICATION_ATTEMPTS = """
INSERT INTO attempts (kind, entity_id, started_at, finished_at, latency_ms, outcome, worker)
SELECT 'notification', id, coalesce(sent_at, occurred_at) - interval '1 second',
       coalesce(sent_at, occurred_at), 120, CASE WHEN state = 'sent' THEN 'sent'
       ELSE 'transient' END, 'bench@host'
FROM notifications
"""
CHANGES = """
INSERT INTO email_changes (id, customer_id, brand, country, current_email, new_email,
                           requested_by, request_id, requested_at, state, synced_at,
                           finished_at, failures, last_outcome)
SELECT gen_random_uuid(), 'C-' || (i %% 40000), (ARRAY['acme','globex'])[1 + i %% 2],
       (ARRAY['ES','FR','DE'])[1 + i %% 3], 'c' || i || '@example.com',
       'n' || i || '@example.com', 'agent-' || (i %% 50), 'bench-' || i, ts,
       st, CASE WHEN st = 'synced' THEN ts + (0.2 + random()) * interval '1 second' END,
       CASE WHEN st IN ('synced', 'dead') THEN ts + interval '2 seconds' END,
       CASE WHEN st = 'dead' THEN 1 ELSE 0 END,
       CASE WHEN st = 'synced' THEN 'synced' WHEN st = 'dead' THEN 'permanent' END
FROM (SELECT i, %(now)s::timestamptz - (i * %(step)s) * interval '1 second' AS ts,
             CASE WHEN i <= 50 THEN 'pending' WHEN i %% 97 = 0 THEN 'dead'
                  ELSE 'synced' END AS st
      FROM generate_series(1, %(changes)s) i) s
"""
CHANGE_ATTEMPTS = """
INSERT INTO attempts (kind, entity_id, started_at, finished_at, latency_ms, status_code,
                      outcome, worker)
SELECT 'email_change', id, requested_at + interval '100 ms',
       requested_at + interval '130 ms', 30,
       CASE WHEN state = 'dead' THEN 404 ELSE 200 END,
       CASE WHEN state = 'dead' THEN 'permanent' ELSE 'synced' END, 'bench@host'
FROM email_changes WHERE state <> 'pending'
"""
DEAD = """
INSERT INTO dead_letters (kind, entity_id, reason, status_code, error, response_excerpt,
                          attempts, brand, country, first_failed_at, last_failed_at,
                          created_at, state, resolved_at, resolved_by, resolution_note)
SELECT k, gen_random_uuid(),
       (ARRAY['customer_not_found','email_in_use','invalid_field','max_age','rejected'])
           [1 + i %% 5], 404, 'HTTP 404 from the provider', '{"error": "not found"}', 3,
       (ARRAY['acme','globex'])[1 + i %% 2], (ARRAY['ES','FR','DE'])[1 + i %% 3], ts, ts, ts,
       st, CASE WHEN st <> 'open' THEN ts + interval '1 hour' END,
       CASE WHEN st <> 'open' THEN 'bench' END, CASE WHEN st <> 'open' THEN 'bench' END
FROM (SELECT i, %(now)s::timestamptz - (i * %(dstep)s) * interval '1 second' AS ts,
             CASE WHEN i %% 2 = 0 THEN 'email_change' ELSE 'notification' END AS k,
             CASE WHEN i %% 10 = 0 THEN 'replayed' WHEN i %% 10 = 1 THEN 'discarded'
                  ELSE 'open' END AS st
      FROM generate_series(1, %(dead)s) i) s
"""
DEAD_EVENTS = """
INSERT INTO dead_letter_events (dead_letter_id, action, "at", "by", note)
SELECT id, state, resolved_at, resolved_by, resolution_note FROM dead_letters
WHERE state <> 'open'
"""


def build(url: str, args) -> float:
    import psycopg

    now = datetime.now(UTC)
    rows, pending = args.notifications, 1000
    sent = rows - pending
    span = timedelta(days=30)
    params = {"rows": rows, "sent": sent, "now": now, "start": now - span - timedelta(hours=3),
              "step": span.total_seconds() / max(sent, 1), "changes": args.changes,
              "dead": args.dead, "dstep": span.total_seconds() / max(args.dead, 1)}
    params["step_changes"] = span.total_seconds() / max(args.changes, 1)
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT setseed(0.42)")
        for sql in (BUILD_EVENTS, BUILD_NOTIFICATIONS):
            conn.execute(sql, params)
        for sql in (BUILD_OUTBOX, NOTIFICATION_ATTEMPTS):
            conn.execute(sql)
        conn.execute(CHANGES, {**params, "step": params["step_changes"]})
        conn.execute(CHANGE_ATTEMPTS)
        conn.execute(DEAD, params)
        conn.execute(DEAD_EVENTS)
        conn.execute("""INSERT INTO email_sync_reconciliations
                        (sample, checked, matched, mismatched, missing, errors)
                        VALUES (200, 200, 199, 1, 0, 0)""")
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def pages(http: requests.Session, url: str) -> list[tuple[str, str, dict | None]]:
    """(label, path, form) for every page; ids are read from the data just built."""
    from relay.db import connection

    with connection() as conn:
        change = conn.execute("SELECT id, customer_id FROM email_changes "
                              "ORDER BY requested_at DESC LIMIT 1").fetchone()
        dead = conn.execute("SELECT id FROM dead_letters WHERE state = 'open' "
                            "ORDER BY id DESC LIMIT 1").fetchone()["id"]
        order = conn.execute("SELECT order_id FROM order_events ORDER BY occurred_at DESC "
                             "LIMIT 1").fetchone()["order_id"]
        conn.commit()
    month = datetime.now(UTC).strftime("%Y-%m")
    csrf = re.search(r'name="csrf" value="([^"]+)"', http.get(url + "/email-changes").text).group(1)
    return [
        ("sign-in page", "/sign-in", None),
        ("overview", "/", None),
        ("overview JSON (every 5 s)", "/console/overview.json", None),
        ("trends 24 h", "/trends?range=24h", None),
        ("trends 7 d", "/trends?range=7d", None),
        ("trends 30 d", "/trends?range=30d", None),
        ("trends JSON 30 d", "/console/trends.json?range=30d", None),
        ("dead letters (open, newest 200)", "/dead-letters", None),
        ("dead letters filtered", "/dead-letters?task=notification&reason=max_age"
                                  "&older_than=1d", None),
        ("dead letter detail", f"/dead-letters/{dead}", None),
        ("bulk confirm (count a selection)", "/dead-letters/confirm",
         {"csrf": csrf, "action": "replay", "task": "email_change",
          "reason": "customer_not_found"}),
        ("email change by id", f"/email-changes?q={change['id']}", None),
        ("email changes by customer", f"/email-changes?q={change['customer_id']}", None),
        ("order look-up", f"/orders?order_id={order}", None),
        ("monthly review", f"/review?month={month}", None),
        ("monthly review CSV", f"/review.csv?month={month}", None),
    ]


def measure(http: requests.Session, url: str, runs: int) -> list[dict]:
    out = []
    for label, path, form in pages(http, url):
        times, first = [], None
        for i in range(runs + 1):
            started = time.perf_counter()
            if form is None:
                r = http.get(url + path, timeout=30)
            else:
                r = http.post(url + path, data=form, timeout=30,
                              headers={"Origin": url})
            elapsed = (time.perf_counter() - started) * 1000
            if r.status_code != 200:
                raise SystemExit(f"{path}: HTTP {r.status_code}\n{r.text[:500]}")
            if i:
                times.append(elapsed)
            else:  # the first request of a fresh process: nothing cached yet
                first = elapsed
        median = statistics.median(times)
        out.append({"page": label, "first ms": f"{first:.0f}", "median ms": f"{median:.0f}",
                    "max ms": f"{max(times):.0f}",
                    "< 300 ms": "yes" if median < TARGET_MS else "NO"})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench console", description=__doc__)
    parser.add_argument("--notifications", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--dead", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--keep", action="store_true",
                        help="leave the server running until Ctrl-C (screenshots)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("DATABASE_URL and REDIS_URL are needed: run via scripts/bench console")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    server, url = create_database()
    os.environ["DATABASE_URL"] = url
    from relay.settings import reset_settings_cache

    reset_settings_cache()
    api = None
    try:
        built = build(url, args)
        print(f"built {args.notifications:,} notifications, {args.changes:,} email changes, "
              f"{args.dead:,} dead letters in {built:.0f} s", flush=True)
        from notifications.sla import reports

        started = time.perf_counter()
        days = reports.rollup_due()
        print(f"rolled up {len(days)} days in {time.perf_counter() - started:.0f} s",
              flush=True)
        from relay import apikeys

        key = apikeys.create("bench-operator", "operate")
        port = free_port()
        env = dict(os.environ, API_WORKERS="1", API_RATE_LIMIT_RPS="0",
                   LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
        workdir = Path(tempfile.gettempdir())
        api = Proc([sys.executable, "-c", "from relay.cli import main; main()", "serve",
                    "--port", str(port), "--workers", "1"], env, workdir / "bench-console.log")
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(base + "/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("relay serve did not start; see " + str(api.log))
            time.sleep(0.1)
        http = requests.Session()
        r = http.post(base + "/sign-in", data={"api_key": key}, headers={"Origin": base},
                      allow_redirects=False)
        assert r.status_code == 303, r.text
        from bench_sync import print_table

        rows = measure(http, base, args.runs)
        print()
        print_table(rows)
        ok = all(r["< 300 ms"] == "yes" for r in rows)
        print(f"\nevery page's median under {TARGET_MS} ms: {'yes' if ok else 'NO'}")
        if args.keep:
            print(f"console at {base} — sign in with {key}; Ctrl-C to stop", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return 0 if ok else 1
    finally:
        if api is not None:
            api.stop()
        drop_database(server, url)


if __name__ == "__main__":
    raise SystemExit(main())
