"""Reading the database the way tests check results: each read in its own transaction,
committed, so a later read sees what workers committed meanwhile."""

from __future__ import annotations

from relay.db import connection


def fetch(query: str, params=None) -> list[dict]:
    """Run one statement; its rows (none for a statement that returns none)."""
    with connection() as conn:
        cur = conn.execute(query, params)
        found = cur.fetchall() if cur.description else []
        conn.commit()
    return found


def table_count(table: str) -> int:
    (row,) = fetch(f"SELECT count(*) AS n FROM {table}")
    return int(row["n"])


def outbox_row(entity_id):
    from relay import outbox

    with connection() as conn:
        row = outbox.get(conn, entity_id)
        conn.commit()
    return row

