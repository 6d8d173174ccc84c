"""Private servers their owner may stop and restart: a `redis-server` and a PostgreSQL
cluster on free loopback ports. The servers scripts/test and scripts/bench provide are
never restarted (other tests and the session depend on them); these are for the tests that
restart a server on purpose and for scripts/soak, which does so mid-run.

The same flags as `start_private_postgres` / `start_private_redis` in scripts/lib/common.sh.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.polling import wait_until
from tests.support.processes import free_port


class PrivateRedis:
    """A `redis-server` without persistence: a restart loses every key, as in production
    when Redis runs without AOF/RDB and its process or host restarts."""

    def __init__(self, workdir: Path, *, start: bool = True) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        if start:
            self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with open(self.workdir / f"redis-{self.port}.log", "ab") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.workdir)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._answers, timeout=15, interval=0.05, message="redis-server to answer")

    def _answers(self) -> bool:
        import redis

        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"redis-server exited with {self.proc.returncode}")
        try:
            with redis.Redis(port=self.port, socket_timeout=1) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """SIGTERM (what systemd or `docker restart` sends); nothing is saved."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        """Stop it and remove its working directory."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


class PrivatePostgres:
    """A throwaway PostgreSQL cluster (initdb) its owner may stop and start on the same port
    and data. As root it runs as `postgres` (PostgreSQL refuses root), with its data in a
    fresh directory that user owns, outside any checkout."""

    def __init__(self, *, start: bool = True) -> None:
        bindirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                         key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
        if not bindirs:
            raise RuntimeError("PostgreSQL binaries not found under /usr/lib/postgresql")
        self.bindir = bindirs[-1]
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="relay-pg."))
        self._as: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres")
        if start:
            self.start()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self._as, str(self.bindir / tool), *args], cwd=self.dir,
                              capture_output=True, text=True, timeout=60)
        if done.returncode:
            raise RuntimeError(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w",
                  "-t", "30", "-o", f"-p {self.port} -k {self.dir} "
                  "-c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", mode, "-w", "-t", "30", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)
