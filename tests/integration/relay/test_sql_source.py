"""The functions a database holds are the ones in relay/sql/*.sql: `relay db migrate`
re-applies them after the numbered migrations, writes nothing when they are already there,
and puts back a function changed by hand."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from relay import sql
from relay.migrate import available_migrations, migrate

# the functions of ours, as PostgreSQL keeps them: a replaced function is a new row version
_VERSIONS = """SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                      p.xmin::text
               FROM pg_proc p JOIN pg_namespace ns ON ns.oid = p.pronamespace
               WHERE ns.nspname = 'public' AND p.prokind = 'f'"""


@pytest.fixture
def empty_database(database_url) -> Iterator[str]:
    """A database of its own (created empty, dropped after): these tests migrate it."""
    name = f"relay_sqlsrc_{uuid.uuid4().hex[:8]}"
    server = urlunsplit(urlsplit(database_url)._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _held_equals_source(url: str) -> None:
    with psycopg.connect(url) as conn:
        held, declared = sql.definitions(conn), sql.declared(conn)
    assert sorted(held) == sorted(declared), "functions the sources do not define (or miss)"
    for signature, definition in declared.items():
        assert held[signature] == definition, f"{signature} differs from relay/sql"


def _migrate_as_before(url: str) -> None:
    """What `relay db migrate` did before relay/sql: the numbered migrations only."""
    with psycopg.connect(url) as conn:
        conn.execute("""CREATE TABLE schema_migrations (version integer PRIMARY KEY,
                        name text NOT NULL, checksum text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now())""")
        for m in available_migrations():
            conn.execute(m.sql)
            conn.execute("INSERT INTO schema_migrations (version, name, checksum)"
                         " VALUES (%s, %s, %s)", (m.version, m.name, m.checksum))


def test_a_new_database_ends_with_exactly_the_source_functions(empty_database):
    # when
    done = migrate(empty_database)
    # then
    assert done.applied and "email_change_claim(p_id uuid, p_token uuid, p_now timestamp " \
        "with time zone, p_until timestamp with time zone)" in done.functions
    _held_equals_source(empty_database)


def test_an_old_database_ends_with_exactly_the_source_functions(empty_database):
    # given: a database migrated by the release before (its functions from the migrations)
    _migrate_as_before(empty_database)
    # when
    done = migrate(empty_database)
    # then: no migration to apply, and the new and changed functions are defined
    assert done.applied == []
    assert any(f.startswith("notification_claim(") for f in done.functions)
    _held_equals_source(empty_database)


def test_migrating_twice_writes_nothing(empty_database):
    # given
    migrate(empty_database)
    with psycopg.connect(empty_database) as conn:
        versions = dict(conn.execute(_VERSIONS).fetchall())
    # when
    again = migrate(empty_database)
    # then: nothing reported, and not one function row was rewritten
    assert not again and again.applied == [] and again.functions == []
    with psycopg.connect(empty_database) as conn:
        assert dict(conn.execute(_VERSIONS).fetchall()) == versions
    _held_equals_source(empty_database)


def test_a_function_changed_by_hand_is_put_back(empty_database):
    # given: someone "fixed" a function in production
    migrate(empty_database)
    with psycopg.connect(empty_database) as conn:
        conn.execute("""CREATE OR REPLACE FUNCTION outbox_complete(p_entity uuid)
                        RETURNS void LANGUAGE sql AS $$ SELECT $$""")
    # when
    done = migrate(empty_database)
    # then
    assert done.functions == ["outbox_complete(p_entity uuid)"]
    _held_equals_source(empty_database)


def test_a_function_no_source_defines_is_reported(empty_database):
    # given
    migrate(empty_database)
    with psycopg.connect(empty_database) as conn:
        conn.execute("CREATE FUNCTION left_behind() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        # then
        assert sql.unmanaged(conn) == ["left_behind()"]


def test_the_test_database_holds_exactly_the_source_functions(database_url):
    _held_equals_source(database_url)
