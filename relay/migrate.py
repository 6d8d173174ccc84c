"""Versioned schema migrations: `relay db migrate`.

Migrations are SQL files named `NNNN_description.sql` in `relay/migrations/`, applied in
order, each with its row in `schema_migrations`, all in one transaction: a failing
migration leaves the schema as it was. A transaction-scoped advisory lock serialises
concurrent runs (two deploys at once, or every compose worker starting together): the
second waits, then finds nothing to do.

Then, every run, the server-side functions of `relay/sql/*.sql` are re-applied in the
same transaction (`relay.sql.apply`): the migrations are history, those files are the
functions' source. A run that changes nothing writes nothing. A migration never defines
a function any more; it only drops one whose arguments or result change.

Number ranges keep parallel work from colliding: 0001-0099 runtime, 0100-0199 email
sync, 0200-0299 dead letters and on-call, 0300-0399 notifications, 0400-0499 SLA,
0600-0619 privacy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from relay import sql
from relay.logs import get_logger

log = get_logger(__name__)

MIGRATION_LOCK_ID = 0x72656C6179  # "relay"
_NAME_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("relay.migrations").iterdir():
        match = _NAME_RE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"duplicate migration numbers in relay/migrations: {versions}")
    return found


@dataclass(frozen=True)
class Migrated:
    """What one run did: numbered migrations applied, functions (re)defined from relay/sql."""

    applied: list[str]
    functions: list[str]

    def __bool__(self) -> bool:
        return bool(self.applied or self.functions)


def migrate(database_url: str) -> Migrated:
    """Apply pending migrations, then the function sources; say what changed (falsy when
    the database was up to date)."""
    applied_now: list[str] = []
    with psycopg.connect(database_url, autocommit=False) as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {
                row[0]: row[1]
                for row in conn.execute("SELECT version, checksum FROM schema_migrations")
            }
            for migration in available_migrations():
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        log.warning("db.migration_changed_after_apply", name=migration.name)
                    continue
                conn.execute(migration.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s,%s,%s)",
                    (migration.version, migration.name, migration.checksum),
                )
                applied_now.append(migration.name)
                log.info("db.migration_applied", name=migration.name)
            functions = sql.apply(conn)
            if functions:
                log.info("db.functions_defined", functions=functions)
    return Migrated(applied_now, functions)
