"""Server-side functions as source, not history.

Each `*.sql` file here holds one domain's functions as `CREATE OR REPLACE FUNCTION`, and
`relay db migrate` re-applies them all after the numbered migrations, every run, in the
migration's transaction and under its advisory lock. So the functions a database holds are
the ones in these files, whether it was created today or migrated through every number:
a change to a function is an edit here, reviewed as a diff of the function itself.

Rules that follow from `CREATE OR REPLACE`:
- It cannot change a function's arguments or result columns. Such a change is a numbered
  migration that drops the old function; the new one is written here.
- Nothing drops a function removed from these files: a numbered migration must.
  `unmanaged()` lists leftovers, and the tests fail on any.
- Files apply in name order, and a `LANGUAGE sql` body is checked when it is created:
  it may call functions of its own or an earlier file only (plpgsql bodies are resolved
  when they run).
- A numbered migration runs before these files: one that needs a function's new
  behaviour must not rely on it (it sees the definition of the release before).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import psycopg


@dataclass(frozen=True)
class Source:
    name: str
    sql: str


def sources() -> list[Source]:
    """The function files, in the order they are applied (by name)."""
    found = [Source(entry.name, entry.read_text())
             for entry in resources.files(__name__).iterdir() if entry.name.endswith(".sql")]
    return sorted(found, key=lambda s: s.name)


# Functions of ours: in the schema, not a member of an extension. The key is the identity
# signature (name and argument types), which CREATE OR REPLACE keeps.
_DEFINITIONS = """
SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS signature,
       pg_get_functiondef(p.oid) AS definition
FROM pg_proc p JOIN pg_namespace ns ON ns.oid = p.pronamespace
WHERE ns.nspname = %s AND p.prokind = 'f'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                    AND d.deptype = 'e')
"""


def definitions(conn: psycopg.Connection, schema: str = "public") -> dict[str, str]:
    """signature -> the definition PostgreSQL holds (pg_get_functiondef), for our functions."""
    return {row[0]: row[1] for row in conn.execute(_DEFINITIONS, (schema,))}


def apply(conn: psycopg.Connection) -> list[str]:
    """Re-apply every source file inside the caller's transaction; return the signatures
    whose definition changed (empty when the database already held exactly these).

    Nothing changed: the savepoint is rolled back, so an up-to-date database gets no
    catalog write at all — replacing a function, even by itself, invalidates the cached
    plans of every session that called it (every worker's hot path)."""
    before = definitions(conn)
    changed: list[str] = []
    with conn.transaction():   # a savepoint inside the migration's transaction
        for source in sources():
            try:
                conn.execute(source.sql)
            except psycopg.Error as exc:
                raise RuntimeError(f"relay/sql/{source.name}: {exc}") from exc
        after = definitions(conn)
        changed = sorted(sig for sig, text in after.items() if before.get(sig) != text)
        if not changed:
            raise psycopg.Rollback()
    return changed


def declared(conn: psycopg.Connection) -> dict[str, str]:
    """What the source files define, read back from PostgreSQL: the files are applied in a
    scratch schema (inside a savepoint that is rolled back), so the result compares
    one-to-one with `definitions()` of the live schema."""
    scratch = "relay_sql_declared"
    found: dict[str, str] = {}
    with conn.transaction():
        path = conn.execute("SELECT current_setting('search_path')").fetchone()[0]
        conn.execute(f"CREATE SCHEMA {scratch}")
        # the files name no schema: they create in the first one on the path, and their
        # bodies still resolve tables in public
        conn.execute(f"SET LOCAL search_path = {scratch}, {path}")
        for source in sources():
            conn.execute(source.sql)
        found = {sig: text.replace(f"FUNCTION {scratch}.", "FUNCTION public.", 1)
                 for sig, text in definitions(conn, scratch).items()}
        raise psycopg.Rollback()
    return found


def unmanaged(conn: psycopg.Connection) -> list[str]:
    """Functions in the database that no source file defines (left by an old migration)."""
    return sorted(set(definitions(conn)) - set(declared(conn)))
