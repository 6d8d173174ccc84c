"""Small read-only store queries the console needs beyond `relay status`: each one is an
indexed look-up or an aggregate over a recent window (see migration 0520), so the overview
stays fast with millions of rows (`scripts/bench console`)."""

from __future__ import annotations

from datetime import datetime

from relay.db import connection
from relay.names import Queues

SYNC_WINDOW_MIN = 15          # changes per minute and error rate: the last 15 minutes
LATENCY_WINDOW_MIN = 60       # enqueue -> Homeria percentiles: changes synced in the last hour
DEAD_LETTER_AGES = (("under 1 h", 0, 3600), ("1 h to 24 h", 3600, 86400),
                    ("1 d to 7 d", 86400, 7 * 86400), ("over 7 d", 7 * 86400, None))


def sync_rates() -> dict:
    """Email sync over the recent window: intake per minute, attempt error rate, latency
    percentiles, and the oldest change still waiting."""
    with connection() as conn:
        rate = conn.execute(
            """SELECT count(*) AS changes FROM email_changes
               WHERE requested_at > now() - make_interval(mins => %s)""",
            (SYNC_WINDOW_MIN,)).fetchone()
        errors = conn.execute(
            """SELECT count(*) AS attempts,
                      count(*) FILTER (WHERE outcome <> 'synced') AS failed
               FROM attempts WHERE kind = 'email_change'
                 AND started_at > now() - make_interval(mins => %s)""",
            (SYNC_WINDOW_MIN,)).fetchone()
        latency = conn.execute(
            """SELECT count(*) AS synced,
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY lat) AS p50,
                      percentile_cont(0.99) WITHIN GROUP (ORDER BY lat) AS p99
               FROM (SELECT extract(epoch FROM synced_at - requested_at)::float8 AS lat
                     FROM email_changes WHERE state = 'synced'
                       AND synced_at > now() - make_interval(mins => %s)) s""",
            (LATENCY_WINDOW_MIN,)).fetchone()
        oldest = conn.execute(
            """SELECT extract(epoch FROM now() - min(requested_at))::float8 AS age_s
               FROM email_changes WHERE state IN ('pending', 'in_flight')""").fetchone()
        conn.commit()
    attempts = errors["attempts"]
    return {
        "window_min": SYNC_WINDOW_MIN,
        "changes_per_min": round(rate["changes"] / SYNC_WINDOW_MIN, 2),
        "attempts": attempts, "failed_attempts": errors["failed"],
        "error_rate": round(errors["failed"] / attempts, 4) if attempts else None,
        "latency_window_min": LATENCY_WINDOW_MIN, "synced": latency["synced"],
        "latency_p50_s": _r(latency["p50"]), "latency_p99_s": _r(latency["p99"]),
        "oldest_pending_age_s": _r(oldest["age_s"]),
    }


def unsent_by(dimension: str) -> dict[str, int]:
    """Unsent transactional notifications by channel or event type (the SLA's own index)."""
    column = {"channel": "channel", "event_type": "event_type"}[dimension]
    with connection() as conn:
        rows = conn.execute(
            f"""SELECT {column} AS k, count(*) AS n FROM notifications
                WHERE state IN ('pending', 'sending') AND queue = '{Queues.TRANSACTIONAL}'
                GROUP BY 1 ORDER BY 1""").fetchall()
        conn.commit()
    return {r["k"]: r["n"] for r in rows}


def dead_letters_by_reason() -> list[dict]:
    with connection() as conn:
        rows = conn.execute(
            """SELECT kind, reason, count(*) AS open,
                      extract(epoch FROM now() - min(created_at))::float8 AS oldest_age_s
               FROM dead_letters WHERE state = 'open'
               GROUP BY kind, reason ORDER BY count(*) DESC, kind, reason""").fetchall()
        conn.commit()
    return [{**r, "oldest_age_s": _r(r["oldest_age_s"])} for r in rows]


def dead_letters_by_age() -> list[dict]:
    cases = ", ".join(
        f"count(*) FILTER (WHERE created_at <= now() - make_interval(secs => {lo})"
        + (f" AND created_at > now() - make_interval(secs => {hi})" if hi else "")
        + f") AS b{i}" for i, (_, lo, hi) in enumerate(DEAD_LETTER_AGES))
    with connection() as conn:
        row = conn.execute(f"SELECT {cases} FROM dead_letters WHERE state = 'open'").fetchone()
        conn.commit()
    return [{"age": label, "open": row[f"b{i}"]}
            for i, (label, _, _) in enumerate(DEAD_LETTER_AGES)]


def oldest_message_by_queue() -> dict[str, float]:
    """Per queue, the age of the oldest task handed to the broker and not done yet: the
    outbox knows when each message was published (Redis keeps no timestamps)."""
    with connection() as conn:
        rows = conn.execute(
            """SELECT queue, extract(epoch FROM now() - min(published_at))::float8 AS age_s
               FROM outbox WHERE done_at IS NULL AND published_at IS NOT NULL
               GROUP BY queue""").fetchall()
        conn.commit()
    return {r["queue"]: _r(r["age_s"]) for r in rows}


def latest_alerts(limit: int = 8) -> list[dict]:
    with connection() as conn:
        rows = conn.execute(
            """SELECT key, title, last_sent_at, suppressed FROM alert_windows
               WHERE last_sent_at IS NOT NULL ORDER BY last_sent_at DESC LIMIT %s""",
            (limit,)).fetchall()
        conn.commit()
    return [{**r, "last_sent_at": _iso(r["last_sent_at"])} for r in rows]


def entity_state(kind: str, entity_id) -> dict | None:
    """Where a dead letter's work stands now (after a replay: delivered? dead again?)."""
    sql = {"email_change": "SELECT state, synced_at AS done_at FROM email_changes WHERE id = %s",
           "notification": "SELECT state, sent_at AS done_at FROM notifications WHERE id = %s"}
    if kind not in sql:
        return None
    with connection() as conn:
        row = conn.execute(sql[kind], (entity_id,)).fetchone()
        conn.commit()
    return None if row is None else {"state": row["state"], "done_at": _iso(row["done_at"])}


def changes_of_customer(customer_id: str, limit: int = 50) -> list[dict]:
    with connection() as conn:
        rows = conn.execute(
            """SELECT id, state, brand, country, requested_at, synced_at, carried_by, failures
               FROM email_changes WHERE customer_id = %s
               ORDER BY requested_at DESC LIMIT %s""", (customer_id, limit)).fetchall()
        conn.commit()
    return [{**r, "id": str(r["id"]), "carried_by": r["carried_by"] and str(r["carried_by"]),
             "requested_at": _iso(r["requested_at"]), "synced_at": _iso(r["synced_at"])}
            for r in rows]


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")
