"""BROKER_URL / REDIS_SENTINEL_MASTER (issue 18): validated at start-up, one line naming
the variable; the Celery configuration each broker gets."""

import json
import os
import subprocess
import sys

import pytest
from redis.sentinel import SentinelConnectionPool

from relay.errors import ConfigurationError
from relay.redisconn import client_for
from relay.settings import load_settings, parse_sentinel_url
from tests.support import ROOT

SENTINELS = "sentinel://10.0.0.1:26379;sentinel://10.0.0.2:26380"


@pytest.fixture
def env(monkeypatch):
    from relay.settings import Settings

    for field in Settings.model_fields.values():
        monkeypatch.delenv(field.alias, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@localhost/db")
    monkeypatch.setenv("REDIS_URL", "redis://localhost:6379/0")
    return monkeypatch


def test_broker_defaults_to_redis_url(env):
    s = load_settings()
    assert s.broker == "redis://localhost:6379/0" and s.broker_kind == "redis"


def test_rabbitmq_broker_is_accepted(env):
    env.setenv("BROKER_URL", "amqp://relay:pw@rabbit:5672/relay")
    s = load_settings()
    assert s.broker_kind == "amqp" and s.redis_url == "redis://localhost:6379/0"


@pytest.mark.parametrize("variable", ["BROKER_URL", "REDIS_URL"])
def test_a_sentinel_url_needs_the_master_name(env, variable):
    env.setenv(variable, SENTINELS)
    with pytest.raises(ConfigurationError, match="REDIS_SENTINEL_MASTER is invalid"):
        load_settings()
    env.setenv("REDIS_SENTINEL_MASTER", "relay")
    assert load_settings().redis_sentinel_master == "relay"


@pytest.mark.parametrize("value, message", [
    ("kafka://broker:9092", "BROKER_URL is invalid: must be a redis://"),
    ("sentinel://10.0.0.1:26379;redis://10.0.0.2:6379", "BROKER_URL is invalid: every part"),
    ("sentinel://10.0.0.1:26379/x", "BROKER_URL is invalid: database must be a number"),
    ("amqp://", "BROKER_URL is invalid: names no host"),
])
def test_bad_broker_urls_are_named(env, value, message):
    env.setenv("BROKER_URL", value)
    env.setenv("REDIS_SENTINEL_MASTER", "relay")
    with pytest.raises(ConfigurationError, match=message):
        load_settings()


def test_sentinel_url_takes_password_and_database_from_the_first_part_as_kombu_does():
    hosts, password, db = parse_sentinel_url(
        "sentinel://:s%40cret@h1:26379/2;sentinel://h2;sentinel://h3:26381")
    assert hosts == [("h1", 26379), ("h2", 26379), ("h3", 26381)]
    assert (password, db) == ("s@cret", 2)
    with pytest.raises(ValueError, match="first sentinel:// part only"):
        parse_sentinel_url("sentinel://h1:26379;sentinel://h2:26379/3")


def test_a_sentinel_client_asks_the_sentinels_for_the_master():
    client = client_for(SENTINELS, "relay")  # builds, connects on first command only
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "relay"
    assert [(c.connection_pool.connection_kwargs["host"]) for c in
            pool.sentinel_manager.sentinels] == ["10.0.0.1", "10.0.0.2"]


def _celeryconfig(extra: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"BROKER_URL",
                                                            "REDIS_SENTINEL_MASTER"}}
    env.update({"DATABASE_URL": "postgresql://u@localhost/db",
                "REDIS_URL": "redis://localhost:6379/0", **extra})
    code = ("import json, celeryconfig as c; print(json.dumps({'url': c.broker_url, "
            "'opts': c.broker_transport_options, 'args': [q.queue_arguments for q in "
            "c.task_queues], 'quorum': getattr(c, 'worker_detect_quorum_queues', None), "
            "'scheduler': c.beat_scheduler}))")
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_celery_gets_quorum_queues_on_rabbitmq_and_the_master_name_on_sentinel():
    amqp = json.loads(_celeryconfig({"BROKER_URL": "amqp://guest:guest@rabbit//"}).stdout)
    assert amqp["args"] and all(a == {"x-queue-type": "quorum"} for a in amqp["args"])
    assert amqp["quorum"] is True and "visibility_timeout" not in amqp["opts"]
    sentinel = json.loads(_celeryconfig({"BROKER_URL": SENTINELS,
                                         "REDIS_SENTINEL_MASTER": "relay"}).stdout)
    assert sentinel["opts"]["master_name"] == "relay" and sentinel["url"] == SENTINELS
    assert all(a is None for a in sentinel["args"])
    assert sentinel["scheduler"] == "relay.beatlease:LeaderScheduler"


def test_a_bad_broker_stops_celery_at_start_up_with_one_line():
    result = _celeryconfig({"BROKER_URL": SENTINELS})
    assert result.returncode == 2
    assert result.stderr.strip() == ("relay: configuration error: REDIS_SENTINEL_MASTER is"
                                     " invalid: must name the Sentinel master when REDIS_URL"
                                     " or BROKER_URL is a sentinel:// URL")
