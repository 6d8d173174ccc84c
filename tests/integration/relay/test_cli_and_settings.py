"""Start-up errors are one clear line; bad CLI input exits 2; migrations are idempotent."""

from __future__ import annotations

import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.support import ROOT, run_cli


def _one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_missing_database_url_is_one_line_naming_it(relay_env):
    env = {k: v for k, v in relay_env.items() if k != "DATABASE_URL"}
    result = run_cli(["status"], env)
    assert result.returncode == 2
    _one_line_error(result, "DATABASE_URL")


@pytest.mark.parametrize("var,value", [
    ("HOMERIA_BASE_URL", "http://homeria.example.com"),   # plain http off loopback
    ("NOTIFICATION_SLA_SECONDS", "two hours"),
    ("SMTP_URL", "mail.example.com"),
    ("BRANDS", " , "),
    ("REDIS_URL", "http://127.0.0.1:6379"),
    # the features' own tunables are checked at start-up too, not inside a task
    ("HOMERIA_BREAKER_THRESHOLD", "0"),
    ("PROMO_QUIET_HOURS", "25-99"),
    ("PROMO_UNSUBSCRIBE_URL", "http://shop.example/u"),
    ("SLA_WARN_SECONDS", "soon"),
    ("DEAD_LETTER_RETENTION_DAYS", "-3"),
])
def test_malformed_variable_is_one_line_naming_it(relay_env, var, value):
    result = run_cli(["status"], dict(relay_env, **{var: value}))
    assert result.returncode == 2
    _one_line_error(result, var)


@pytest.mark.parametrize("var,value", [("REDIS_URL", None), ("SLA_WARN_SECONDS", "soon")])
def test_celery_worker_with_bad_config_fails_with_one_line(relay_env, var, value):
    env = {k: v for k, v in relay_env.items() if k != var}
    if value is not None:
        env[var] = value
    result = subprocess.run([sys.executable, "-m", "celery", "-A", "relay", "worker"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    _one_line_error(result, var)


@pytest.mark.parametrize("args", [
    ["no-such-command"],
    ["db", "migrate", "extra"],
    ["canary", "--timeout", "soon"],
    ["canary", "--queue", "no-such-queue", "--no-wait"],
    ["status", "--jsn"],
])
def test_bad_cli_arguments_exit_2(relay_env, args):
    result = run_cli(args, relay_env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.strip()
    assert "Traceback" not in result.stderr


def test_status_json_is_one_document_with_queues_and_outbox(relay_env):
    import json

    result = run_cli(["status", "--json"], relay_env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc["queues"]) >= {"homeria", "notify.transactional", "notify.promotions",
                                  "maintenance"}
    assert doc["broker_reachable"] is True
    assert isinstance(doc["outbox"], dict)


def test_status_for_people_shows_every_section_as_a_table(relay_env):
    result = run_cli(["status"], relay_env)
    assert result.returncode == 0, result.stderr
    for title in ("Broker queues", "Outbox", "dead letters", "homeria", "sla",
                  "breaker.state", "heartbeat.stale"):
        assert title in result.stdout
    assert "{" not in result.stdout  # no raw dicts for a person to parse


def test_status_with_broker_down_exits_0_and_says_unreachable(relay_env):
    import json

    result = run_cli(["status", "--json"], dict(relay_env, REDIS_URL="redis://127.0.0.1:1/0"))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["broker_reachable"] is False
    assert set(doc["queues"].values()) == {None}


def test_migrate_is_idempotent_and_safe_when_run_concurrently(relay_env):
    server = relay_env["DATABASE_URL"]
    name = f"relay_migrate_{uuid.uuid4().hex[:8]}"
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        env = dict(relay_env, DATABASE_URL=url)
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda _: run_cli(["db", "migrate"], env), range(3)))
        assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
        assert sum("applied" in r.stderr for r in results) == 1
        again = run_cli(["db", "migrate"], env)
        assert again.returncode == 0 and "up to date" in again.stderr
        with psycopg.connect(url) as conn:
            versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
        assert len(versions) == len(set(versions)) > 0
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
