"""PostgreSQL access: one psycopg 3 connection pool per process, and transactions with
after-commit hooks.

The pool is created lazily and re-created after a fork (`relay.perprocess`: Celery's
prefork pool forks after import; a pool inherited across fork would share sockets).

`transaction()` yields a `Tx`; work registered with `tx.after_commit(fn)` runs only once
the transaction has committed. That is how producers publish to Redis: never before the
row is durable (Warehouse's after-commit hook, Saleor's outbox).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg.rows import dict_row
from psycopg.types.datetime import TimestamptzLoader
from psycopg_pool import ConnectionPool

from relay.logs import get_logger
from relay.perprocess import PerProcess
from relay.settings import get_settings

log = get_logger(__name__)

class _InfinityAwareTimestamptzLoader(TimestamptzLoader):
    """Outbox rows parked "until woken" have next_attempt_at = 'infinity', which Python's
    datetime cannot hold; read it as datetime.max (UTC) instead of raising DataError."""

    def load(self, data):
        raw = bytes(data)
        if raw == b"infinity":
            return datetime.max.replace(tzinfo=UTC)
        if raw == b"-infinity":
            return datetime.min.replace(tzinfo=UTC)
        return super().load(data)


psycopg.adapters.register_loader("timestamptz", _InfinityAwareTimestamptzLoader)


# A connection that sat in the pool longer than this is checked (one round trip) before it
# is handed out: after a PostgreSQL restart every pooled connection is dead, and without the
# check the first query on each fails (a task lost to the lease, a producer call refused).
# Busy workers get their connection back within milliseconds and skip the check, so the hot
# path pays nothing.
CHECK_AFTER_IDLE_S = 2.0
_returned_at: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _configure(conn: psycopg.Connection) -> None:
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()


class _Pool(ConnectionPool):
    """Notes when a connection comes back. Not through the pool's `reset` callback: with
    one set, psycopg_pool hands every returned connection to its worker thread (a queue
    put, a thread wake-up and a switch per query on two busy cores, ~10 % of an API
    request's CPU in py-spy); stamping it here keeps the return inline."""

    def putconn(self, conn: psycopg.Connection) -> None:
        _returned_at[conn] = time.monotonic()
        super().putconn(conn)


def _check_if_idle(conn: psycopg.Connection) -> None:
    returned = _returned_at.pop(conn, None)
    if returned is None or time.monotonic() - returned > CHECK_AFTER_IDLE_S:
        ConnectionPool.check_connection(conn)  # raises on a dead one: the pool replaces it


def _open_pool() -> ConnectionPool:
    settings = get_settings()
    return _Pool(
        settings.database_url,
        min_size=min(settings.db_pool_min, settings.db_pool_max),
        max_size=settings.db_pool_max,
        kwargs={"row_factory": dict_row, "application_name": "relay"},
        configure=_configure,
        check=_check_if_idle,
        # PostgreSQL down: fail within this, not the pool's default 30 s
        timeout=settings.db_pool_timeout_seconds,
        open=True,
        name="relay",
    )


_pool: PerProcess[ConnectionPool] = PerProcess(_open_pool, lambda pool: pool.close())


def get_pool() -> ConnectionPool:
    return _pool.get()


def close_pool() -> None:
    _pool.reset()


@contextmanager
def connection() -> Iterator[psycopg.Connection]:
    """A pooled connection in autocommit-off mode; commit or roll back yourself."""
    with get_pool().connection() as conn:
        yield conn


def run_one(query, params=None) -> dict | None:
    """One self-contained statement as its own transaction (autocommit): a single round
    trip with no BEGIN/COMMIT around it. For hot paths whose whole step is one statement
    (a claim, a server-side function); returns the first row, if any."""
    return _autocommit(query, params, all_rows=False)


def run_all(query, params=None) -> list[dict]:
    """`run_one`, returning every row (a set-returning function over a batch)."""
    return _autocommit(query, params, all_rows=True)


def _autocommit(query, params, *, all_rows: bool):
    with get_pool().connection() as conn:
        conn.autocommit = True
        try:
            cur = conn.execute(query, params)
            return cur.fetchall() if all_rows else cur.fetchone()
        finally:
            conn.autocommit = False


def copy_rows(tx: Tx, table: str, columns: Sequence[tuple[str, str]],
              rows: Iterable[Sequence]) -> None:
    """COPY `rows` into `table` in PostgreSQL's binary format. `columns` pairs each column
    with its exact type (binary COPY does not convert: an int2 column wants "int2").

    Binary because bulk intake is bound by it: formatting a row as COPY text took ~13 µs
    of client CPU, seven times the binary form (measured, 40,000 notification rows)."""
    names = ", ".join(name for name, _ in columns)
    with tx.conn.cursor() as cur, cur.copy(
            f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([kind for _, kind in columns])
        for row in rows:
            copy.write_row(row)


@dataclass
class Tx:
    conn: psycopg.Connection
    _after: list[Callable[[], None]] = field(default_factory=list)

    def execute(self, query, params=None):
        return self.conn.execute(query, params)

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._after.append(fn)


@contextmanager
def transaction(*, pipeline: bool = False) -> Iterator[Tx]:
    """One database transaction; after-commit hooks run once it is durable.

    A failing hook is logged, not raised: the committed row is the truth and the outbox
    sweep will publish it again.

    pipeline=True runs it in psycopg's pipeline mode: statements whose results are not
    read (BEGIN, a lock, an insert) go out together, and only a `fetchone()` forces a
    round trip. Hot paths with several statements per transaction (email sync: a claim in
    one round trip, an outcome in two or three) use it; on a busy host each round trip
    costs ~0.5 ms of context switches.
    """
    with get_pool().connection() as conn:
        tx = Tx(conn)
        with conn.pipeline() if pipeline else nullcontext(), conn.transaction():
            yield tx
    for fn in tx._after:
        try:
            fn()
        except Exception as exc:
            log.warning("db.after_commit_failed", error=repr(exc))
