"""relay's own reliability run: steady traffic while a week's faults are injected.

    scripts/soak [--duration 600] [--long] [--change-rate 3] [--event-rate 3] [--seed N]

Starts its own PostgreSQL and Redis (so it may restart them), the loopback stand-ins
(Homeria, SMTP, SMS, push, on-call webhook), the workers laid out as scripts/run lays
them out and beat, all under a supervisor that restarts an exited process with backoff
(as scripts/run's does) and records every exit the soak did not cause. Then it produces
email changes and order events through the public producer APIs while the schedule in
soaklib/faults.py injects faults, lets the system settle, and checks from the stand-ins'
own records: 0 lost, 0 out of order, 0 applied twice, every notification sent exactly
once (or dead-lettered for a permanent reason), a breach alert for whatever passed its
deadline. Exit 0 only if every check holds; 1 otherwise, naming what failed. Every
process it started is stopped on the way out, Ctrl-C and failures included.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from soaklib import checks, report  # noqa: E402
from soaklib.faults import Fault, schedule, sla_seconds  # noqa: E402
from soaklib.records import get_json, post_json  # noqa: E402
from soaklib.services import Managed, Postgres, Redis, Supervisor, free_port, wait_for  # noqa: E402
from soaklib.state import collect  # noqa: E402
from soaklib.traffic import Traffic  # noqa: E402

# scripts/run's layout: (name, queues, threads, niceness)
WORKERS = (("sync-1", "homeria", 8, 0), ("sync-2", "homeria", 8, 0),
           ("transactional-1", "notify.expedite,notify.transactional", 16, 0),
           ("transactional-2", "notify.expedite,notify.transactional", 16, 0),
           ("promotions", "notify.promotions", 8, 10), ("maintenance", "maintenance", 4, 0))
GRACE_S = 90.0        # the SLA check runs every 60 s: a breach is alerted within this
CONVERGING = ("changes:", "notifications:", "SLA:", "soak:")   # checks that settling may fix
HOMERIA_CLEAR = {"error_rate": 0, "burst_429": 0, "outage_seconds": 0}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=600,
                        help="total seconds, settling included (default 600)")
    parser.add_argument("--long", action="store_true", help="an hour (--duration 3600)")
    parser.add_argument("--change-rate", type=float, default=3.0, help="email changes/s")
    parser.add_argument("--event-rate", type=float, default=3.0, help="order events/s")
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    args = parser.parse_args(argv)
    if args.long:
        args.duration = 3600
    if not 240 <= args.duration <= 4 * 3600:
        parser.error("--duration must be between 240 and 14400 seconds")
    for name in ("change_rate", "event_rate"):
        if not 0.1 <= getattr(args, name) <= 50:
            parser.error(f"--{name.replace('_', '-')} must be between 0.1 and 50")
    if not 10 <= args.customers <= 100_000:
        parser.error("--customers must be between 10 and 100000")
    return args


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run = uuid.uuid4().hex[:6]
        self.seed = args.seed if args.seed is not None else random.randrange(10**6)
        self.rng = random.Random(self.seed)
        self.settle_s = min(600.0, max(150.0, 0.3 * args.duration))
        self.production_s = args.duration - self.settle_s
        self.sla_s = sla_seconds(self.production_s)
        self.faults = schedule(self.production_s)
        self.outcomes: dict[str, str | None] = {f.name: "not reached" for f in self.faults}
        self.timeline: list[str] = []
        self.root = Path(tempfile.mkdtemp(prefix="relay-soak-"))
        self.logs = self.root / "logs"
        self.logs.mkdir()
        self.supervisor = Supervisor()
        self.pg: Postgres | None = None
        self.redis: Redis | None = None
        self.traffic: Traffic | None = None
        self.urls: dict[str, str] = {}
        self.t0 = 0.0
        self.next_tick = 0.0
        self.log_file = None

    # -- set-up ------------------------------------------------------------------------
    def say(self, text: str) -> None:
        stamp = f"{time.monotonic() - self.t0:6.0f}s " if self.t0 else ""
        print(f"[soak] {stamp}{text}", file=sys.stderr, flush=True)

    def setup(self) -> None:
        self.say(f"run {self.run}, seed {self.seed}, logs in {self.logs}")
        self.pg = Postgres()
        self.pg.start()
        self.redis = Redis(self.root)
        self.redis.start()
        ports = {name: free_port() for name in ("homeria", "smtp", "smtp_http", "sms", "push",
                                                "webhook")}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        os.environ.update({
            "DATABASE_URL": self.pg.url, "REDIS_URL": self.redis.url,
            "HOMERIA_BASE_URL": self.urls["homeria"], "SMTP_URL": f"smtp://127.0.0.1:{ports['smtp']}",
            "SMS_API_URL": self.urls["sms"], "PUSH_API_URL": self.urls["push"],
            "ONCALL_WEBHOOK_URL": f"{self.urls['webhook']}/hooks/oncall",
            "NOTIFICATION_SLA_SECONDS": str(self.sla_s), "OUTBOX_SWEEP_SECONDS": "5",
            "OUTBOX_LEASE_SECONDS": "15", "ONCALL_ALERT_WINDOW_SECONDS": "1",
            "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"})
        from relay.logs import configure_logging
        from relay.migrate import migrate
        from relay.settings import reset_settings_cache

        # relay's own log lines from the producers (publish failures while Redis is down,
        # the pool reconnecting) go to a file, so the terminal shows the soak's progress
        self.log_file = open(self.logs / "producers.log", "a")
        configure_logging("WARNING", stream=self.log_file)
        reset_settings_cache()
        migrate(self.pg.url)
        self._standins(ports)
        self._relay_processes()
        self.say("waiting for every queue to have a live consumer (relay canary)")
        canary = subprocess.run([sys.executable, "-c", "from relay.cli import main; main()",
                                 "canary", "--timeout", "120"], cwd=ROOT, capture_output=True,
                                text=True, timeout=300)
        if canary.returncode:
            raise RuntimeError(f"relay canary failed: {canary.stdout}{canary.stderr}")
        self.supervisor.run()

    def _spawn(self, name: str, argv: list[str], **env: str) -> Managed:
        return self.supervisor.add(Managed(name, argv, {**os.environ, **env}, self.logs, ROOT))

    def _standins(self, ports: dict[str, int]) -> None:
        standin = [sys.executable, "-m", "standins"]
        self._spawn("homeria", [*standin, "homeria", "--port", str(ports["homeria"])])
        self._spawn("smtp", [*standin, "smtp", "--port", str(ports["smtp"]),
                             "--http-port", str(ports["smtp_http"])])
        for name in ("sms", "push", "webhook"):
            self._spawn(name, [*standin, name, "--port", str(ports[name])])
        for name in ("homeria", "smtp_http", "sms", "push", "webhook"):
            wait_for(lambda n=name: self._healthy(n), 30, f"the {name} stand-in")
        self.traffic = Traffic(self.run, self.args.customers, self.args.change_rate,
                               self.args.event_rate, self.sla_s, self.rng)
        status, text = post_json(f"{self.urls['homeria']}/_control/seed",
                                 self.traffic.seed_docs())
        if status != 200:
            raise RuntimeError(f"seeding the Homeria stand-in failed: {status} {text[:200]}")

    def _healthy(self, name: str) -> bool:
        try:
            return bool(get_json(f"{self.urls[name]}/_control/health"))
        except OSError:
            return False

    def _relay_processes(self) -> None:
        celery = [sys.executable, "-m", "celery", "-A", "relay"]
        for name, queues, threads, nice in WORKERS:
            self._spawn(name, ["nice", "-n", str(nice), *celery, "worker", "-Q", queues,
                               "-P", "threads", "-c", str(threads), "-n", f"{name}@soak-{self.run}",
                               "--without-mingle", "--without-gossip", "-l", "WARNING"],
                        DB_POOL_MAX=str(threads))
        self._spawn("beat", [*celery, "beat", "-s", str(self.root / "beat-schedule"),
                             "-l", "WARNING"])

    # -- the run -----------------------------------------------------------------------
    def run_traffic(self) -> None:
        assert self.traffic is not None
        self.t0 = time.monotonic()
        self.say(f"producing for {self.production_s:.0f} s "
                 f"({self.args.change_rate:g} changes/s, {self.args.event_rate:g} events/s, "
                 f"SLA {self.sla_s} s), then settling for up to {self.settle_s:.0f} s")
        self.traffic.start()
        for fault in self.faults:
            self._wait_until(fault.at_s)
            self._inject(fault)
        self._wait_until(self.production_s)
        self.traffic.stop()
        self._clear_faults()
        self.say(f"producers stopped: {len(self.traffic.changes)} changes, "
                 f"{len(self.traffic.events)} order events; settling")

    def _inject(self, fault: Fault) -> None:
        self.say(f"fault: {fault.what} ({fault.length_s:.0f} s)")
        at = time.monotonic() - self.t0
        try:
            problem = getattr(self, f"fault_{fault.name}")(fault)
        except Exception as exc:   # a fault the soak could not inject is a result of its own
            problem = f"{type(exc).__name__}: {exc}"
        self.outcomes[fault.name] = problem
        self.timeline.append(f"{at:6.0f}s  {fault.what}, {fault.length_s:.0f} s"
                             + (f"  [NOT INJECTED: {problem}]" if problem else ""))

    def _wait_until(self, at_s: float) -> None:
        """Sleep until `at_s` into the run, ticking Homeria's 429 bursts and progress."""
        while (left := self.t0 + at_s - time.monotonic()) > 0:
            if time.monotonic() >= self.next_tick:
                self.next_tick = time.monotonic() + 20
                if self.outcomes.get("homeria_noise") is None and self._noise_on():
                    post_json(f"{self.urls['homeria']}/_control/faults",
                              {"burst_429": 3, "error_status": self.rng.choice((500, 502, 503))})
                self._progress()
            time.sleep(min(left, 1.0))

    def _noise_on(self) -> bool:
        noise = next(f for f in self.faults if f.name == "homeria_noise")
        return noise.at_s <= time.monotonic() - self.t0 < noise.at_s + noise.length_s

    def _progress(self) -> None:
        try:
            applied = len(get_json(f"{self.urls['homeria']}/_control/applied"))
            # not the SMTP sink's: it parses every message it holds for each read
            sent = sum(len(get_json(f"{self.urls[n]}/_control/messages"))
                       for n in ("sms", "push"))
        except OSError as exc:
            self.say(f"progress: stand-ins unreadable ({exc})")
            return
        t = self.traffic
        exits = sum(len(v) for v in self.supervisor.unexpected.values())
        self.say(f"changes {len(t.changes)} (Homeria applied {applied}), order events "
                 f"{len(t.events)} (SMS + push received {sent}), unexpected exits {exits}")

    # -- faults (each returns None when injected, else why not) -------------------------
    def fault_homeria_noise(self, fault: Fault) -> str | None:
        url = f"{self.urls['homeria']}/_control/faults"
        status, text = post_json(url, {"error_rate": 0.05, "error_status": 503})
        if status != 200:
            return f"5xx: {status} {text[:120]}"
        # the lost-response fault: applied, then the connection dropped (homeria helper)
        status, text = post_json(url, {"drop_after_apply_rate": 0.05})
        return None if status == 200 else f"drop_after_apply_rate: {status} {text[:120]}"

    def fault_homeria_outage(self, fault: Fault) -> str | None:
        status, text = post_json(f"{self.urls['homeria']}/_control/faults",
                                 {"outage_seconds": fault.length_s})
        return None if status == 200 else f"{status} {text[:120]}"

    def fault_kill_workers(self, fault: Fault) -> str | None:
        for name in ("sync-1", "transactional-1"):
            self.supervisor.kill(name, hold_s=fault.length_s)
        return None

    def fault_providers_outage(self, fault: Fault) -> str | None:
        problems = []
        for name in ("smtp_http", "sms", "push"):
            status, text = post_json(f"{self.urls[name]}/_control/faults",
                                     {"outage_seconds": fault.length_s})
            if status != 200:
                problems.append(f"{name}: {status} {text[:80]}")
        return "; ".join(problems) or None

    def fault_redis_restart(self, fault: Fault) -> str | None:
        assert self.redis is not None
        self.redis.stop()
        time.sleep(fault.length_s)
        self.redis.start()
        return None

    def fault_postgres_restart(self, fault: Fault) -> str | None:
        assert self.pg is not None
        self.pg.stop("fast")
        time.sleep(fault.length_s)
        self.pg.start()
        return None

    def fault_beat_kill(self, fault: Fault) -> str | None:
        self.supervisor.kill("beat", hold_s=fault.length_s)
        return None

    def _clear_faults(self) -> None:
        post_json(f"{self.urls['homeria']}/_control/faults", HOMERIA_CLEAR)
        post_json(f"{self.urls['homeria']}/_control/faults", {"drop_after_apply_rate": 0})
        for name in ("smtp_http", "sms", "push"):
            post_json(f"{self.urls[name]}/_control/faults",
                      {"error_rate": 0, "burst_429": 0, "outage_seconds": 0})

    # -- verdict -----------------------------------------------------------------------
    def verdict(self) -> list[checks.Check]:
        """Poll the checks until they all hold or the settle budget is spent."""
        deadline = self.t0 + self.production_s + self.settle_s
        while True:
            try:
                results = self._checks()
            except Exception as exc:   # a stand-in too slow to answer: try again, bounded
                unread = checks.Check("soak: the stand-ins' records could be read")
                unread.failures.append(f"{type(exc).__name__}: {exc}"[:300])
                results = [unread]
            waiting = [c for c in results if not c.ok and c.name.startswith(CONVERGING)]
            if not waiting or time.monotonic() >= deadline:
                return results
            failing = ", ".join(c.name for c in waiting)
            self.say(f"settling: still failing: {failing}")
            time.sleep(min(30.0, max(0.0, deadline - time.monotonic())))

    def _checks(self) -> list[checks.Check]:
        assert self.traffic is not None and self.pg is not None
        seen = collect(self.pg.url, self.urls, self.run)
        t = self.traffic
        events = [*t.events, *checks.delay_notices(t.events, seen.delay_events)]
        return [
            *checks.email_changes(t.changes, seen.applied, seen.change_dead_letters,
                                  seen.change_notes),
            *checks.notifications(events, seen.deliveries, seen.suppressed,
                                  seen.event_dead_letters, seen.unattributed, seen.event_notes),
            checks.breach_alerts(t.events, seen.deliveries, seen.alerts, time.time(),
                                 GRACE_S, seen.suppressed),
            checks.producers(t.gave_up, t.errors),
            checks.process_exits(self.supervisor.unexpected),
            checks.faults_applied(self.outcomes),
        ]

    def summary(self, results: list[checks.Check]) -> str:
        t = self.traffic
        header = [
            ("machine", f"{os.cpu_count()} cores, {os.uname().nodename}"),
            ("duration", f"{self.args.duration:.0f} s ({self.production_s:.0f} s producing, "
                         f"settle up to {self.settle_s:.0f} s); run {self.run}, seed {self.seed}"),
            ("produced", f"{len(t.changes) if t else 0} email changes, "
                         f"{len(t.events) if t else 0} order events"),
            ("settings", f"NOTIFICATION_SLA_SECONDS={self.sla_s}, OUTBOX_SWEEP_SECONDS=5, "
                         "OUTBOX_LEASE_SECONDS=15, ONCALL_ALERT_WINDOW_SECONDS=1"),
            ("restarts", ", ".join(f"{p.name} {p.restarts}"
                                   for p in self.supervisor.procs.values() if p.restarts)
             or "none"),
        ]
        return report.render(header, self.timeline, results)

    def teardown(self, keep_logs: bool) -> None:
        if self.traffic is not None:
            self.traffic.stop()
        self.supervisor.stop_all(timeout=10)
        with contextlib.suppress(Exception):   # the pool may never have opened
            from relay.db import close_pool

            close_pool()
        if self.log_file is not None:
            self.log_file.close()
        for server in (self.redis, self.pg):
            if server is not None:
                server.destroy()
        if keep_logs:
            self.say(f"logs kept in {self.logs}")
            for item in self.root.iterdir():
                if item != self.logs:
                    shutil.rmtree(item, ignore_errors=True) if item.is_dir() else item.unlink()
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def on_term(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    # Ctrl-C stops the run even when started where SIGINT was ignored (a background job)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    soak = Soak(args)
    code = 1
    try:
        soak.setup()
        soak.run_traffic()
        results = soak.verdict()
        print(soak.summary(results), flush=True)
        code = 0 if all(c.ok for c in results) else 1
    except KeyboardInterrupt:
        soak.say("interrupted: stopping everything")
        code = 130
    except Exception as exc:
        soak.say(f"the soak itself failed: {type(exc).__name__}: {exc}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not skip clean-up
        soak.teardown(keep_logs=code != 0)
    return code


if __name__ == "__main__":
    sys.exit(main())
