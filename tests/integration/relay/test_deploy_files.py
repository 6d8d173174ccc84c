"""docker-compose.yml and scripts/run must run a consumer for every declared queue."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.support import ROOT


def declared_queues() -> set[str]:
    import celeryconfig

    return {q.name for q in celeryconfig.task_queues}


def _compose_env() -> dict[str, str]:
    return dict(os.environ, HOMERIA_API_TOKEN="t", HOMERIA_SIGNING_SECRET="s",
                FLOWER_BASIC_AUTH="oncall:secret")


@pytest.fixture(scope="module")
def compose_config() -> str:
    if not shutil.which("docker-compose"):
        pytest.fail("docker-compose is missing: scripts/test installs Debian's package")
    result = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"),
                             "config"], capture_output=True, text=True, env=_compose_env(),
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_compose_file_is_valid_and_runs_migrations_once_beat_and_flower(compose_config):
    for service in ("postgres:", "redis:", "migrate:", "beat:", "flower:"):
        assert f"  {service}" in compose_config
    assert "service_completed_successfully" in compose_config


def test_compose_file_refuses_missing_secrets():
    env = _compose_env()
    del env["HOMERIA_API_TOKEN"]
    result = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"),
                             "config"], capture_output=True, text=True, env=env, cwd=ROOT,
                            timeout=60)
    assert result.returncode != 0
    assert "HOMERIA_API_TOKEN" in result.stderr


def test_every_declared_queue_has_a_consumer_in_compose(compose_config):
    consumed = set()
    for match in re.finditer(r"- -Q\n\s+- ([\w.,-]+)", compose_config):
        consumed.update(match.group(1).split(","))
    assert declared_queues() <= consumed, declared_queues() - consumed


def test_every_declared_queue_has_a_consumer_in_scripts_run():
    script = (ROOT / "scripts" / "run").read_text()
    consumed = set()
    for match in re.finditer(r"^worker \S+ (\S+) \S+ \d+(?: \d+)?$", script, re.MULTILINE):
        consumed.update(match.group(1).split(","))
    assert declared_queues() <= consumed, declared_queues() - consumed


def test_promotions_run_at_a_lower_cpu_priority_than_order_updates(compose_config):
    # a promotion burst must not take the CPU order updates need on a shared host
    script = (ROOT / "scripts" / "run").read_text()
    niceness = {m.group(1): int(m.group(2) or 0) for m in re.finditer(
        r"^worker \S+ (\S+) \S+ \d+(?: (\d+))?$", script, re.MULTILINE)}
    assert niceness["notify.promotions"] > niceness["notify.expedite,notify.transactional"] == 0
    services = re.split(r"\n  (?=[\w-]+:\n)", compose_config)
    shares = {s.split(":", 1)[0]: re.search(r"cpu_shares: (\d+)", s) for s in services}
    assert shares["worker-transactional"] is None  # the default weight, 1024
    assert int(shares["worker-promotions"].group(1)) < 1024


def test_compose_runs_the_http_api_with_a_health_check(compose_config):
    services = re.split(r"\n  (?=[\w-]+:\n)", compose_config)
    api = next(s for s in services if s.startswith("api:"))
    assert "- serve" in api and "healthcheck:" in api and "/readyz" in api
    assert "API_WORKERS:" in api


def test_scripts_run_starts_the_http_api_and_prints_a_curl_example():
    script = (ROOT / "scripts" / "run").read_text()
    assert re.search(r"^spawn api relay serve --port", script, re.MULTILINE)
    assert "curl -sS -X POST http://127.0.0.1:$API_PORT/v1/email-changes" in script


def test_sentinel_override_points_every_relay_service_at_the_sentinels_and_runs_two_beats():
    # given the base file with the Sentinel override (issue 18)
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "-f",
         str(ROOT / "docker-compose.sentinel.yml"), "config"], capture_output=True, text=True,
        env=_compose_env(), cwd=ROOT, timeout=60)
    # then it is valid, with a replica and three Sentinels (a quorum of two)
    assert result.returncode == 0, result.stderr
    body = result.stdout.split("services:\n", 1)[1].split("\nversion:", 1)[0]
    services = dict(s.strip().split(":\n", 1) for s in re.split(r"\n(?=  [\w-]+:\n)", body))
    for name in ("redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"):
        assert name in services, sorted(services)
    assert "monitor relay redis 6379 2" in services["sentinel-1"]
    # and every relay process reaches broker and shared state through the Sentinels
    for name in ("migrate", "worker-sync", "worker-transactional", "worker-promotions",
                 "worker-maintenance", "beat", "flower"):
        body = services[name]
        assert "BROKER_URL: sentinel://sentinel-1:26379;" in body, name
        assert "REDIS_URL: sentinel://sentinel-1:26379;" in body, name
        assert "REDIS_SENTINEL_MASTER: relay" in body, name
    # and two beats run: the leader lease makes that safe
    assert "replicas: 2" in services["beat"]
