"""Throwaway databases: a fresh, migrated database on the server a URL names, dropped when
its owner is done. The test session and every benchmark work in one, so neither ever
touches the server's other databases (scripts/test and scripts/bench share one server)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit


def create_database(server_url: str, prefix: str = "relay_tmp", *,
                    migrated: bool = True) -> str:
    """CREATE DATABASE <prefix>_<random> on the server of `server_url`; returns its URL,
    migrated with `relay.migrate.migrate` unless migrated=False."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    if migrated:
        from relay.migrate import migrate

        migrate(url)
    return url


def drop_database(server_url: str, url: str) -> None:
    """Close this process's pool, then DROP the database `url` names (sessions of workers
    still connected are ended: WITH (FORCE))."""
    import psycopg

    from relay.db import close_pool

    close_pool()
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_database(prefix: str = "relay_tmp", *, migrated: bool = True) -> Iterator[str]:
    """A fresh database on DATABASE_URL's server, made this process's DATABASE_URL (settings
    re-read) for the block; dropped, and DATABASE_URL restored, afterwards."""
    from relay.settings import reset_settings_cache

    server_url = require_env("DATABASE_URL")
    url = create_database(server_url, prefix, migrated=False)
    os.environ["DATABASE_URL"] = url
    reset_settings_cache()
    try:
        if migrated:
            from relay.migrate import migrate

            migrate(url)
        yield url
    finally:
        drop_database(server_url, url)
        os.environ["DATABASE_URL"] = server_url
        reset_settings_cache()


def truncate_all(conn) -> None:
    """Empty every table but the migration record (identities restarted)."""
    tables = [r["tablename"] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        " AND tablename <> 'schema_migrations'")]
    if tables:
        conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                     + " RESTART IDENTITY CASCADE")


def flush_redis(url: str, *keys: str) -> None:
    """Delete `keys` from the Redis database `url` names, or all of it (FLUSHDB)."""
    import redis

    with redis.Redis.from_url(url) as client:
        if keys:
            client.delete(*keys)
        else:
            client.flushdb()


class MissingService(SystemExit):
    """DATABASE_URL or REDIS_URL is unset: the caller was not started by scripts/test or
    scripts/bench, which provide private servers."""


def require_env(*names: str) -> str:
    """The value of the first name (each must be set), else exit naming the script to use."""
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        raise MissingService(f"{' and '.join(missing)} must be set: run through scripts/test "
                             "or scripts/bench, which provide private servers")
    return os.environ[names[0]]


def require_for_tests(name: str) -> str:
    """require_env for a pytest fixture: a missing variable ends the session (exit 2)
    rather than failing every test that needs it."""
    import pytest

    try:
        return require_env(name)
    except MissingService as missing:
        pytest.exit(str(missing), returncode=2)
