"""SLA benchmark: is the every-minute check cheap on a big table, and is the monthly report
fast from rollups?

    scripts/bench sla [--rows 1000000] [--pending 1000]

Builds `--rows` notifications (one per order event, 30 days, ~95 % on time) with
generate_series, of which `--pending` are unsent (spread over the last 90 minutes, ten of
them past their deadline), then times: the check (first run does the work, the second is
the steady state), the daily rollups, the monthly report from rollups vs from live rows.
EXPLAIN shows the check's queries use the partial indexes of 0400_sla.sql.

Needs DATABASE_URL and REDIS_URL (scripts/bench provides private ones). Creates and drops
its own database; expedited rows are published to that Redis (use a private one).
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg

BUILD_EVENTS = """
INSERT INTO order_events (event_id, type, order_id, customer_id, brand, country, locale,
                          occurred_at, deadline, payload)
SELECT 'b' || i, (ARRAY['order_confirmed','packed','shipped','out_for_delivery',
                        'delivered'])[1 + i %% 5],
       'SO-' || i, 'C-' || (i %% 200000), (ARRAY['acme','globex'])[1 + i %% 2],
       (ARRAY['ES','PT','FR','DE','IT'])[1 + (i / 7) %% 5], 'es-ES', ts,
       ts + interval '2 hours', '{"order": {"number": "SO"}}'::json
FROM (SELECT i, CASE WHEN i <= %(sent)s
                     THEN %(start)s::timestamptz + (i * %(step)s) * interval '1 second'
                     WHEN i <= %(sent)s + 10
                     THEN %(now)s::timestamptz - interval '150 minutes'
                     ELSE %(now)s::timestamptz - ((i - %(sent)s) * 5.4) * interval '1 second'
                END AS ts
      FROM generate_series(1, %(rows)s) i) s
"""
BUILD_NOTIFICATIONS = """
INSERT INTO notifications (id, event_id, channel, rank, event_type, order_id, customer_id,
                           brand, country, queue, state, occurred_at, deadline, sent_at,
                           activated_at, attempts)
SELECT gen_random_uuid(), event_id, (ARRAY['email','sms','push','inapp'])[1 + n %% 4], 0,
       type, order_id, customer_id, brand, country, 'notify.transactional',
       CASE WHEN n <= %(sent)s THEN 'sent' ELSE 'pending' END, occurred_at, deadline,
       CASE WHEN n <= %(sent)s
            THEN occurred_at - ln(1 - random()) * 2400 * interval '1 second' END,
       occurred_at, 1
FROM (SELECT e.*, substr(e.event_id, 2)::int AS n FROM order_events e) s
"""
BUILD_OUTBOX = """
INSERT INTO outbox (entity_id, kind, task, queue, published_at, publish_count)
SELECT id, 'notification', 'notifications.send', 'notify.transactional', now(), 1
FROM notifications WHERE state = 'pending'
"""
EXPLAIN = {
    "expedite": """SELECT id FROM notifications
        WHERE state IN ('pending', 'sending') AND queue = 'notify.transactional'
          AND expedited_at IS NULL AND occurred_at <= now() - interval '1 hour'
        ORDER BY occurred_at LIMIT 1000 FOR UPDATE SKIP LOCKED""",
    "breach": """SELECT id FROM notifications
        WHERE state IN ('pending', 'sending') AND queue = 'notify.transactional'
          AND breached_at IS NULL AND deadline <= now()
        ORDER BY deadline LIMIT 1000 FOR UPDATE SKIP LOCKED""",
    "unsent": """SELECT count(*), min(occurred_at) FROM notifications
        WHERE state IN ('pending', 'sending') AND queue = 'notify.transactional'""",
    "drain": """SELECT queue, count(*) FROM notifications
        WHERE sent_at > now() - interval '10 minutes' AND sent_at <= now() GROUP BY queue""",
}


def timed(fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench sla")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=1000)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL")
    if not server or not os.environ.get("REDIS_URL"):
        raise SystemExit("DATABASE_URL and REDIS_URL are needed: run via scripts/bench sla")
    name = f"relay_bench_sla_{uuid.uuid4().hex[:8]}"
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    try:
        return run(url, args.rows, args.pending)
    finally:
        from relay.db import close_pool

        close_pool()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str, rows: int, pending: int) -> int:
    from relay.logs import configure_logging
    from relay.migrate import migrate
    from relay.settings import reset_settings_cache

    reset_settings_cache()
    configure_logging("ERROR")
    migrate(url)
    now = datetime.now(UTC)
    sent = rows - pending
    span = timedelta(days=30)
    params = {"rows": rows, "sent": sent, "now": now, "start": now - span - timedelta(hours=3),
              "step": span.total_seconds() / max(sent, 1)}
    figures: list[tuple[str, str]] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT setseed(0.42)")
        build, _ = timed(lambda: [conn.execute(q, params) for q in
                                  (BUILD_EVENTS, BUILD_NOTIFICATIONS, BUILD_OUTBOX)])
        conn.execute("VACUUM ANALYZE")
        figures.append((f"build {rows:,} rows ({pending:,} unsent)", f"{build:.1f} s"))
        plans = {k: [r[0] for r in conn.execute("EXPLAIN " + q)] for k, q in EXPLAIN.items()}
    from notifications.sla import reports
    from notifications.sla.check import check

    first, done = timed(check, now)
    figures.append((f"check, first run ({done['expedited']} expedited, "
                    f"{done['breached']} breached)", f"{first * 1000:.0f} ms"))
    for minute in (1, 2):
        steady, _ = timed(check, now + timedelta(minutes=minute))
        figures.append((f"check, steady state (run {minute + 1})", f"{steady * 1000:.0f} ms"))
    roll, days = timed(reports.rollup_due, now)
    figures.append((f"rollups ({len(days)} days)", f"{roll:.1f} s"))
    month_start = now - timedelta(days=30)
    from_rollups, doc = timed(reports.report, month_start, now, now)
    figures.append((f"30-day report from rollups ({doc['sources']['rollup_days']} days + "
                    f"{len(doc['sources']['live'])} live ranges)",
                    f"{from_rollups * 1000:.0f} ms"))
    live, live_doc = timed(_live_report, month_start, now)
    figures.append(("30-day report from live rows only", f"{live * 1000:.0f} ms"))
    o = doc["overall"]
    figures.append(("OTNR 30 days (rollups / live)",
                    f"{o['otnr']:.4f} / {live_doc['otnr']:.4f} over {o['events']:,} events"))
    figures.append(("latency p50 / p95 / p99",
                    " / ".join(f"{o['latency_s'][p]:.0f} s" for p in ("p50", "p95", "p99"))))
    width = max(len(k) for k, _ in figures)
    print(f"\n{'SLA benchmark':<{width}}  result")
    print("-" * (width + 20))
    for key, value in figures:
        print(f"{key:<{width}}  {value}")
    print("\nEXPLAIN (the check's queries):")
    for key, lines in plans.items():
        used = [ln.strip() for ln in lines if "Index" in ln or "Seq Scan" in ln]
        print(f"  {key:<9} " + "\n            ".join(used))
    return 0


def _live_report(start: datetime, end: datetime) -> dict:
    from notifications.sla import reports
    from relay.db import connection

    total = reports.Cell()
    with connection() as conn:
        for cell in reports.live_cells(conn, start, end, end).values():
            total.add(cell)
        conn.commit()
    return total.summary()


if __name__ == "__main__":
    raise SystemExit(main())
