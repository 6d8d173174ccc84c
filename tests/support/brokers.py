"""Private brokers for the failover tests: a Redis master + replica watched by three
Sentinels, and a private RabbitMQ node. Real servers on free loopback ports, each in a
temporary directory, never the machine's shared services (RabbitMQ's on 5672 included).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis

from tests.support.polling import wait_until
from tests.support.processes import free_port, spawn, stop_group

MASTER_NAME = "relaymaster"


def _apt_install(package: str) -> None:
    """As scripts/lib/common.sh does for the suite's own services: never rely on something
    installed by hand. (Debian's package also starts its own service; we never use it.)"""
    if not shutil.which("apt-get"):
        raise RuntimeError(f"{package} is missing and there is no apt-get: install it")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env,
                   capture_output=True)


def _start(cmd: list[str], log: Path, env: dict | None = None):
    # cwd: a replica's full sync makes the master write dump.rdb into its directory
    return spawn(cmd, log, env, cwd=log.parent)


class SentinelSet:
    """Master, replica, three Sentinels (quorum 2, down-after 2 s)."""

    def __init__(self, workdir: Path) -> None:
        if not shutil.which("redis-server"):
            raise RuntimeError("redis-server is missing (scripts/test installs it)")
        self.dir = workdir
        self.master_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.procs: dict[str, subprocess.Popen] = {}
        base = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.procs["master"] = _start(
            ["redis-server", "--port", str(self.master_port), *base], workdir / "master.log")
        self.procs["replica"] = _start(
            ["redis-server", "--port", str(self.replica_port), *base,
             "--replicaof", "127.0.0.1", str(self.master_port)], workdir / "replica.log")
        for i, port in enumerate(self.sentinel_ports):
            conf = workdir / f"sentinel{i}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} 2000\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n")
            self.procs[f"sentinel{i}"] = _start(["redis-server", str(conf), "--sentinel"],
                                                workdir / f"sentinel{i}.log")
        wait_until(self._ready, timeout=30, interval=0.2, message="Sentinel set ready")

    @property
    def url(self) -> str:
        return ";".join(f"sentinel://127.0.0.1:{p}" for p in self.sentinel_ports)

    def env(self) -> dict[str, str]:
        return {"BROKER_URL": self.url, "REDIS_URL": self.url,
                "REDIS_SENTINEL_MASTER": MASTER_NAME}

    def master_port_now(self) -> int | None:
        for port in self.sentinel_ports:
            try:
                client = redis.Redis(port=port, socket_timeout=1)
                addr = client.sentinel_get_master_addr_by_name(MASTER_NAME)
                if addr:
                    return int(addr[1])
            except redis.RedisError:
                continue
        return None

    def _ready(self) -> bool:
        try:
            replica = redis.Redis(port=self.replica_port, socket_timeout=1)
            if replica.info("replication").get("master_link_status") != "up":
                return False
            for port in self.sentinel_ports:
                info = redis.Redis(port=port, socket_timeout=1).sentinel_master(MASTER_NAME)
                if int(info.get("num-other-sentinels", 0)) < 2 or not int(
                        info.get("num-slaves", 0)):
                    return False
            return True
        except redis.RedisError:
            return False

    def kill_master(self) -> None:
        stop_group(self.procs["master"], signal.SIGKILL, timeout=30)

    def stop(self) -> None:
        for proc in self.procs.values():
            stop_group(proc, signal.SIGKILL, timeout=30)


class PrivateRabbit:
    """One RabbitMQ node of our own: its own name, ports, data, cookie and config, so it
    never touches the machine's service (whose /etc/rabbitmq config listens on 5672)."""

    SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"

    def __init__(self, workdir: Path) -> None:
        if not os.path.exists(self.SERVER):
            _apt_install("rabbitmq-server")
        self.dir = workdir
        self.port, dist = free_port(), free_port()
        (workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n")
        (workdir / "enabled_plugins").write_text("[].\n")
        (workdir / "env.conf").write_text("")
        cookie = workdir / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16))
        cookie.chmod(0o400)
        self._env = dict(
            os.environ, HOME=str(workdir), RABBITMQ_CONF_ENV_FILE=str(workdir / "env.conf"),
            RABBITMQ_CONFIG_FILE=str(workdir / "rabbitmq.conf"),
            RABBITMQ_NODENAME=f"relaytest{secrets.token_hex(3)}@localhost",
            RABBITMQ_DIST_PORT=str(dist), RABBITMQ_MNESIA_BASE=str(workdir / "mnesia"),
            RABBITMQ_LOG_BASE=str(workdir / "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(workdir / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(workdir / "pid"), ERL_EPMD_ADDRESS="127.0.0.1")
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.start()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self, timeout: float = 90) -> float:
        """Start the node (again, on the same data); return seconds until AMQP answers."""
        began = time.monotonic()
        self.starts += 1
        self.proc = _start([self.SERVER], self.dir / f"server{self.starts}.log", self._env)
        wait_until(self._answers, timeout=timeout, interval=0.25,
                   message=f"RabbitMQ on {self.port}")
        return time.monotonic() - began

    def _answers(self) -> bool:
        from kombu import Connection

        if self.proc.poll() is not None:
            raise AssertionError((self.dir / f"server{self.starts}.log").read_text()[-2000:])
        try:
            with Connection(self.url, connect_timeout=1) as conn:
                conn.ensure_connection(max_retries=0)
            return True
        except Exception:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            stop_group(self.proc, sig, timeout=30)
