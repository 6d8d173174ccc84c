"""The run behind `scripts/cluster`, inside the db host's namespace (see that script).

1. PostgreSQL, Redis and the Homeria stand-in (200 ms per call, so work is in flight)
   listen on the db host's address; each worker host reaches Homeria through a loopback
   forwarder (socat), since relay accepts plain http only toward loopback.
2. Each worker host runs `celery -A relay worker -Q homeria,maintenance` and a beat; w1's
   beat starts first, so it leads.
3. The producer sends chains of email changes (each customer's email changed --rounds
   times, one after the other) at --rate per second. A third of the way in, w1's switch
   port goes down (link down) and every w1 process is killed (kill -9).
4. Checked: every change synced; what Homeria applied to each customer is one unbroken
   chain in the order requested (nothing twice, nothing lost); the beat's leader lease
   moved to w2; no w2 process exited.
Printed: when the lease moved, the longest stall in delivery, how many changes were
published more than once, total time.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Cluster:
    def __init__(self, args) -> None:
        self.args = args
        self.db_ip = f"{args.subnet}.1"
        self.dir = Path(tempfile.mkdtemp(prefix="cluster.", dir=ROOT / ".relay"))
        self.procs: dict[str, list[subprocess.Popen]] = {"db": [], "w1": [], "w2": []}
        self.pg_data: Path | None = None
        self.env = dict(
            os.environ, DATABASE_URL=f"postgresql://postgres@{self.db_ip}:5432/relay",
            REDIS_URL=f"redis://{self.db_ip}:6379/0", HOMERIA_BASE_URL="http://127.0.0.1:8091",
            HOMERIA_API_TOKEN="cluster-token", HOMERIA_SIGNING_SECRET="cluster-secret",
            HOMERIA_MAX_RPS="0", OUTBOX_LEASE_SECONDS="15", OUTBOX_SWEEP_SECONDS="2",
            LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
        os.environ.update({k: self.env[k] for k in ("DATABASE_URL", "REDIS_URL",
                                                    "HOMERIA_BASE_URL", "HOMERIA_MAX_RPS")})
        self.pg_bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]

    # -- processes ---------------------------------------------------------------------
    def spawn(self, host: str, name: str, cmd: list[str]) -> subprocess.Popen:
        if host != "db":  # another host: enter its network namespace
            cmd = ["ip", "netns", "exec", f"{self.args.ns_prefix}-{host}", *cmd]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, start_new_session=True,
                                stdout=open(self.dir / f"{host}-{name}.log", "wb"),
                                stderr=subprocess.STDOUT)
        self.procs[host].append(proc)
        return proc

    def kill_host(self, host: str) -> None:
        for proc in self.procs[host]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def start_db_host(self) -> None:
        data = self.dir / "pg"
        data.mkdir()
        os.chown(data, *_postgres_ids())
        os.chmod(self.dir, 0o755)  # noqa: S103 - postgres (not root) must reach its data
        as_pg = ["runuser", "-u", "postgres", "--"]
        subprocess.run([*as_pg, str(self.pg_bin / "initdb"), "-D", str(data / "data"), "-A",
                        "trust", "-U", "postgres"], check=True, capture_output=True)
        with open(data / "data" / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {self.args.subnet}.0/24 trust\n")
        subprocess.run([*as_pg, str(self.pg_bin / "pg_ctl"), "-D", str(data / "data"), "-l",
                        str(data / "log"), "-w", "-o",
                        f"-p 5432 -k {data} -c listen_addresses={self.db_ip},127.0.0.1"
                        " -c fsync=off -c max_connections=200", "start"],
                       check=True, capture_output=True)
        self.pg_data = data / "data"
        subprocess.run(["psql", f"postgresql://postgres@{self.db_ip}:5432/postgres", "-qc",
                        "CREATE DATABASE relay"], check=True, capture_output=True)
        # protected mode refuses non-loopback clients without a password: these hosts
        # live on a private bridge inside our own namespaces
        self.spawn("db", "redis", ["redis-server", "--bind", self.db_ip, "--port", "6379",
                                   "--save", "", "--appendonly", "no", "--dir", str(self.dir),
                                   "--protected-mode", "no"])
        self.spawn("db", "homeria", [sys.executable, "-m", "standins", "homeria",
                                     "--host", self.db_ip, "--port", "8091", "--token",
                                     "cluster-token", "--secret", "cluster-secret",
                                     "--latency-ms", "200"])
        _wait(lambda: _http_ok(f"http://{self.db_ip}:8091/_control/health"), 30, "Homeria")
        _wait(lambda: _redis_ok(self.env["REDIS_URL"]), 20, "Redis")
        from relay.migrate import migrate

        migrate(self.env["DATABASE_URL"])

    def start_worker_host(self, host: str) -> None:
        self.spawn(host, "forward", ["socat", "TCP-LISTEN:8091,bind=127.0.0.1,fork,reuseaddr",
                                     f"TCP:{self.db_ip}:8091"])
        self.spawn(host, "worker", [sys.executable, "-m", "celery", "-A", "relay", "worker",
                                    "-Q", "homeria,maintenance", "-P", "threads", "-c", "8",
                                    "-n", f"{host}@cluster", "--without-mingle",
                                    "--without-gossip", "-l", "INFO"])
        self.spawn(host, "beat", [sys.executable, "-m", "celery", "-A", "relay", "beat",
                                  "-l", "INFO"])
        log = self.dir / f"{host}-worker.log"
        _wait(lambda: b" ready." in log.read_bytes(), 90, f"{host}'s worker")

    def stop(self) -> None:
        for host in ("w1", "w2", "db"):
            for proc in self.procs[host]:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in self.procs[host]:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        from relay.db import close_pool

        close_pool()
        if self.pg_data:
            subprocess.run(["runuser", "-u", "postgres", "--", str(self.pg_bin / "pg_ctl"),
                            "-D", str(self.pg_data), "-m", "immediate", "-w", "stop"],
                           capture_output=True)

    # -- the run -----------------------------------------------------------------------
    def beat_leader(self) -> str | None:
        from relay.beatlease import LEADER_LOCK_ID

        row = _one("""SELECT a.application_name AS name FROM pg_locks l
                      JOIN pg_stat_activity a USING (pid)
                      WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s""",
                   (LEADER_LOCK_ID & 0xFFFFFFFF,))
        if not row:
            return None
        pid = int(row["name"].rsplit(":", 1)[1])
        return next((h for h, ps in self.procs.items() if any(p.pid == pid for p in ps)), "?")

    def run(self) -> dict:
        from sync_worker import enqueue_email_change

        a = self.args
        homeria = f"http://{self.db_ip}:8091"
        _post(f"{homeria}/_control/seed", [{"brand": "acme", "country": "ES",
                                            "email": _email(c, 0)} for c in range(a.customers)])
        self.start_worker_host("w1")
        _wait(lambda: self.beat_leader() == "w1", 60, "w1's beat to lead")
        self.start_worker_host("w2")
        plan = [(c, r) for r in range(1, a.rounds + 1) for c in range(a.customers)]
        ids, cut = [], {}
        started = time.monotonic()
        for i, (c, r) in enumerate(plan):
            time.sleep(max(0.0, started + i / a.rate - time.monotonic()))
            ids.append(enqueue_email_change(f"C-{c}", _email(c, r - 1), _email(c, r), "acme",
                                            "ES", request_id=f"cluster-{c}-{r}").change_id)
            if i == len(plan) // 3:
                cut = self.cut_w1()
        _wait(lambda: self._finished(ids) == len(ids), a.timeout, "every change synced",
              fail=lambda: self._alive("w2"))
        return self.check(ids, cut, time.monotonic() - started, homeria)

    def cut_w1(self) -> dict:
        in_flight = int(_one("SELECT count(*) AS n FROM email_changes"
                             " WHERE state = 'in_flight'")["n"])
        subprocess.run(["ip", "-n", f"{self.args.ns_prefix}-sw", "link", "set", "p-w1",
                        "down"], check=True)
        cut_at = time.monotonic()
        self.kill_host("w1")
        print(f"cluster: w1 cut off (link down) and killed; {in_flight} change(s) were in"
              " flight on the two hosts", flush=True)
        _wait(lambda: self.beat_leader() == "w2", 60, "the beat lease to move to w2")
        return {"in_flight": in_flight, "lease_moved_s": round(time.monotonic() - cut_at, 1)}

    def _alive(self, host: str) -> None:
        for proc in self.procs[host]:
            if proc.poll() is not None:
                raise SystemExit(f"cluster: a process on {host} exited ({proc.args[-8:]});"
                                 f" logs in {self.dir}")

    def _finished(self, ids) -> int:
        return int(_one("""SELECT count(*) AS n FROM email_changes WHERE id = ANY(%s)
                           AND state IN ('synced', 'superseded')""", (ids,))["n"])

    def check(self, ids, cut: dict, total_s: float, homeria: str) -> dict:
        from relay.db import connection

        applied = _get(f"{homeria}/_control/applied")
        problems = []
        # Pending changes queued behind one in flight travel as one batch (first current
        # email -> last new one; sync_worker/service.py), so what Homeria applied to each
        # customer must be one unbroken chain c-0 -> ... -> c-<rounds>: a change applied
        # twice or out of order breaks it, a lost one leaves it short.
        chains: dict[str, list[tuple[int, int]]] = {}
        for change in applied:
            customer, old = _step(change["current_email"])
            _, new = _step(change["new_email"])
            chains.setdefault(customer, []).append((old, new))
        broken = [c for c, steps in chains.items()
                  if steps[0][0] != 0 or steps[-1][1] != self.args.rounds
                  or any(a[1] != b[0] or b[0] >= b[1] for a, b in itertools.pairwise(steps))]
        if broken:
            problems.append(f"{len(broken)} customer(s) changed twice, out of order or short:"
                            f" e.g. {broken[0]}: {chains[broken[0]]}")
        if len(chains) != self.args.customers:
            problems.append(f"Homeria changed {len(chains)} customers of {self.args.customers}")
        republished = int(_one(
            """SELECT count(*) AS n FROM outbox WHERE entity_id = ANY(%s)
               AND publish_count > 1""", (ids,))["n"])
        with connection() as conn:
            done = [float(r["t"]) for r in conn.execute(
                """SELECT extract(epoch FROM updated_at) AS t FROM email_changes
                   WHERE id = ANY(%s) ORDER BY updated_at""", (ids,))]
            conn.commit()
        stall = max((b - a for a, b in itertools.pairwise(done)), default=0.0)
        return {"changes": len(ids), "customers": self.args.customers,
                "homeria_calls_applied": len(applied),
                "in_flight_at_cut": cut.get("in_flight"),
                "beat_lease_moved_after_s": cut.get("lease_moved_s"),
                "republished_changes": republished,
                "longest_delivery_stall_s": round(stall, 1),
                "total_s": round(total_s, 1), "problems": problems}


def _one(sql: str, params=()) -> dict | None:
    from relay.db import connection

    with connection() as conn:
        row = conn.execute(sql, params).fetchone()
        conn.commit()
    return row


def _step(email: str) -> tuple[str, int]:
    customer, step = email.split("@")[0].rsplit("-", 1)
    return customer, int(step)


def _email(customer: int, step: int) -> str:
    return f"c{customer}-{step}@cluster.example.com"


def _postgres_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def _wait(predicate, timeout: float, what: str, fail=None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if fail:
            fail()
        with contextlib.suppress(Exception):  # a service still starting: ask again
            if predicate():
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"cluster: timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


def _http_ok(url: str) -> bool:
    return requests.get(url, timeout=1).ok


def _redis_ok(url: str) -> bool:
    import redis

    return bool(redis.Redis.from_url(url, socket_timeout=1).ping())


def _get(url: str):
    resp = requests.get(url, timeout=30)
    resp.raise_for_status()
    return resp.json()


def _post(url: str, doc) -> None:
    requests.post(url, json=doc, timeout=30).raise_for_status()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ns-prefix", required=True)
    parser.add_argument("--subnet", required=True)
    parser.add_argument("--customers", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5, help="changes per customer")
    parser.add_argument("--rate", type=float, default=15, help="changes per second")
    parser.add_argument("--timeout", type=float, default=240)
    args = parser.parse_args(argv)
    cluster = Cluster(args)
    try:
        cluster.start_db_host()
        figures = cluster.run()
    finally:
        cluster.stop()
    print(json.dumps(figures, indent=2))
    if figures["problems"]:
        print(f"cluster: FAILED: {'; '.join(figures['problems'])} (logs in {cluster.dir})")
        return 1
    print("cluster: OK: nothing lost, nothing applied twice, order per customer held,"
          f" the beat's lease moved to w2 (logs in {cluster.dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
