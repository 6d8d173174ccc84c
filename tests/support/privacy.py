"""Looking for a person's data everywhere relay keeps anything: every text/json column of
every table (from information_schema), captured log lines, Redis, Sentry envelopes."""

from __future__ import annotations

import json
import logging

from relay.db import connection
from relay.logs import JsonFormatter
from tests.support.sync import redis_values

TEXT_TYPES = ("text", "character varying", "json", "jsonb", "ARRAY", "USER-DEFINED")


def text_columns() -> dict[str, list[str]]:
    with connection() as conn:
        rows = conn.execute(
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = 'public' AND data_type = ANY(%s)
               ORDER BY table_name, ordinal_position""", (list(TEXT_TYPES),)).fetchall()
        conn.commit()
    found: dict[str, list[str]] = {}
    for r in rows:
        found.setdefault(r["table_name"], []).append(r["column_name"])
    return found


def tables() -> list[str]:
    with connection() as conn:
        names = [r["tablename"] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        conn.commit()
    return names


def row_counts() -> dict[str, int]:
    with connection() as conn:
        counts = {t: conn.execute(f'SELECT count(*) AS n FROM "{t}"').fetchone()["n"]
                  for t in tables()}
        conn.commit()
    return counts


def database_hits(needles: list[str]) -> list[dict]:
    """[{table, column, needle, row}] for every column value containing a needle
    (case-insensitive); `row` is the whole row as JSON, to tell open work from finished."""
    hits = []
    with connection() as conn:
        for table, columns in text_columns().items():
            for column in columns:
                for needle in needles:
                    for r in conn.execute(
                            f'SELECT to_jsonb(t) AS row FROM "{table}" t '
                            f'WHERE t."{column}"::text ILIKE %s',
                            (f"%{needle}%",)):
                        hits.append({"table": table, "column": column, "needle": needle,
                                     "row": r["row"]})
        conn.commit()
    return hits


def redis_hits(client, needles: list[str]) -> list[bytes]:
    values = redis_values(client)
    return [v for v in values for n in needles if n.lower().encode() in v.lower()]


def blob_hits(blobs: list[bytes], needles: list[str]) -> list[bytes]:
    return [b for b in blobs for n in needles if n.lower().encode() in b.lower()]


class LogCapture(logging.Handler):
    """Every log record of this process as the JSON line relay would write."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def hits(self, needles: list[str]) -> list[str]:
        return [line for line in self.lines for n in needles if n.lower() in line.lower()]

    def events(self) -> list[str]:
        return [json.loads(line).get("event") for line in self.lines]
