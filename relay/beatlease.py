"""Beat with no single point of failure: any number of `celery -A relay beat`, one leader.

Each beat holds a dedicated PostgreSQL connection and tries `pg_try_advisory_lock` on it;
the one that gets the lock schedules, the others poll every FOLLOWER_POLL_S. The lock
lives exactly as long as that session: a killed beat's socket closes and PostgreSQL
drops the lock at once; a beat cut off the network is dropped once the server's TCP
keepalives (set per session below) give up, ~11 s. Why PostgreSQL and not RedBeat: the
database is already relay's truth and already highly available where relay runs; a lock
that dies with its session needs no expiry to tune; RedBeat keeps its lock in Redis, which
relay treats as a transport that may lose data (a restart without persistence or a
Sentinel failover with asynchronous replication can drop the lock key and so elect two
leaders at once), and RabbitMQ deployments would need a Redis just for it.

No job twice in one period: before sending an entry the leader writes its run time to
`beat_runs` *on the lock's own connection*. If that session is gone, so is the lock, the
write fails and nothing is sent (a fence). A beat that becomes leader reads `beat_runs`
first and continues the schedule from there instead of from its own start.
"""

from __future__ import annotations

import contextlib
import os
import socket

import psycopg
from celery.beat import Scheduler

from relay.logs import get_logger
from relay.settings import get_settings
from relay.status import register_section

log = get_logger(__name__)

LEADER_LOCK_ID = 0x72656C6162  # "relab": relay beat (0x72656C6179 is the migration lock)
FOLLOWER_POLL_S = 1.0
LEADER_CHECK_S = 2.0
# Server side: notice a silent peer (host cut off) after idle 5 s + 3 probes 2 s apart,
# or 10 s of unacknowledged data; client side the same, so the old leader steps down too.
_KEEPALIVE_SQL = ("SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2;"
                  " SET tcp_keepalives_count = 3; SET tcp_user_timeout = 10000")
_CONNECT_ARGS = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 5,
                 "keepalives_interval": 2, "keepalives_count": 3, "tcp_user_timeout": 10000}


class LeaderLease:
    """The advisory lock on one dedicated autocommit connection."""

    def __init__(self, dsn: str, name: str) -> None:
        self.dsn, self.name = dsn, name
        self._conn: psycopg.Connection | None = None
        self.held = False

    def ensure(self) -> bool:
        """True if this process holds the lock now (checking the session is alive)."""
        try:
            if self._conn is None or self._conn.closed:
                self.held = False
                self._conn = psycopg.connect(self.dsn, autocommit=True,
                                             application_name=self.name, **_CONNECT_ARGS)
                self._conn.execute(_KEEPALIVE_SQL)
                self._conn.execute("SET TIME ZONE 'UTC'")
            if self.held:
                self._conn.execute("SELECT 1")
            else:
                self.held = bool(self._conn.execute(
                    "SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK_ID,)).fetchone()[0])
            return self.held
        except psycopg.Error as exc:
            log.warning("beat.lease_unavailable", error=repr(exc), was_leader=self.held)
            self.drop()
            return False

    def last_runs(self) -> dict:
        rows = self._conn.execute("SELECT name, last_run_at FROM beat_runs").fetchall()
        return dict(rows)

    def record_run(self, entry: str, at) -> None:
        """Raises psycopg.Error if the session (and so the lock) is gone: then don't send."""
        self._conn.execute(
            """INSERT INTO beat_runs (name, last_run_at, leader) VALUES (%s, %s, %s)
               ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at,
                   leader = excluded.leader, updated_at = clock_timestamp()""",
            (entry, at, self.name))

    def drop(self) -> None:
        self.held = False
        if self._conn is not None:
            with contextlib.suppress(Exception):  # already broken
                self._conn.close()
        self._conn = None


def leader_name() -> str:
    return f"relay-beat {socket.gethostname()}:{os.getpid()}"


class LeaderScheduler(Scheduler):
    """Celery's in-memory scheduler, ticking only while it holds the leader lease.

    No schedule file: the run times that matter are in PostgreSQL (`beat_runs`)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.pop("schedule_filename", None)
        self.lease = LeaderLease(get_settings().database_url, leader_name())
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs) -> float:
        was_leader = self.lease.held
        if not self.lease.ensure():
            if was_leader:
                log.warning("beat.leader_lost", beat=self.lease.name)
            return FOLLOWER_POLL_S
        if not was_leader:
            self._continue_schedule()
        return min(super().tick(*args, **kwargs), LEADER_CHECK_S)

    def _continue_schedule(self) -> None:
        runs = self.lease.last_runs()
        for name, entry in self.schedule.items():
            if name in runs:
                entry.last_run_at = runs[name]
        self._heap = None  # rebuilt from the loaded times on this tick
        log.info("beat.leader_acquired", beat=self.lease.name, entries_continued=len(runs))

    def apply_entry(self, entry, producer=None) -> None:
        # tick() has already reserved the entry: the schedule holds this run's time
        ran_at = self.schedule[entry.name].last_run_at
        try:
            self.lease.record_run(entry.name, ran_at)
        except (psycopg.Error, AttributeError) as exc:  # lock gone: another beat may lead
            log.warning("beat.send_fenced", entry=entry.name, error=repr(exc))
            self.lease.drop()
            self._heap = None
            return
        super().apply_entry(entry, producer=producer)

    def close(self) -> None:
        super().close()
        self.lease.drop()

    @property
    def info(self) -> str:
        return f"leader lease in PostgreSQL ({'leader' if self.lease.held else 'standby'})"


def status_section() -> dict:
    """For `relay status`: which beat holds the lease, since when, and the last run of
    each scheduled job (from `beat_runs`)."""
    from relay.db import connection

    with connection() as conn:
        leader = conn.execute(
            """SELECT a.application_name AS beat, a.client_addr::text AS address,
                      a.backend_start AS connected_since
               FROM pg_locks l JOIN pg_stat_activity a USING (pid)
               WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s
                 AND l.database = (SELECT oid FROM pg_database
                                   WHERE datname = current_database())""",
            (LEADER_LOCK_ID >> 32, LEADER_LOCK_ID & 0xFFFFFFFF)).fetchone()
        runs = conn.execute("SELECT name, last_run_at FROM beat_runs ORDER BY name").fetchall()
        conn.commit()
    return {"leader": None if leader is None else {
                "beat": leader["beat"], "address": leader["address"],
                "connected_since": leader["connected_since"].isoformat(timespec="seconds")},
            "last_runs": {r["name"]: r["last_run_at"].isoformat(timespec="seconds")
                          for r in runs}}


register_section("beat", status_section)
