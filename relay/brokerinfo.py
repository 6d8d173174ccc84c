"""What Redis holds for our queues, read directly (no Celery control round-trip).

kombu's Redis transport keeps each queue as a list named after the queue, plus one list
per priority step (`<queue>\\x06\\x16<n>`) when priorities are used. relay uses separate
queues instead of priorities, but counts the priority lists too so nothing hides there.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import socket
import uuid

import redis
from kombu import serialization

from relay.amqpinfo import amqp_queue_depth
from relay.redisconn import broker_client
from relay.settings import get_settings

_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


@functools.lru_cache(maxsize=1)
def _client() -> redis.Redis:
    return broker_client(get_settings(), socket_timeout=5, socket_connect_timeout=2)


def client() -> redis.Redis:
    """The process's Redis client for the broker database (thread-safe, pooled; follows
    a Sentinel failover). Only for Redis brokers: see `is_redis()`."""
    return _client()


def is_redis() -> bool:
    """True when the broker is Redis (plain or Sentinel), False for RabbitMQ."""
    return get_settings().broker_kind != "amqp"


def kombu_envelope(app, task: str, args: list, queue: str) -> bytes:
    """One task message exactly as Celery + kombu's Redis transport store it.

    Celery builds the protocol-2 headers and body; kombu serializes the body (JSON) and
    wraps it in the envelope its Redis channel writes: base64 body, delivery_info with the
    routing key, a delivery tag. A test compares this with what `send_task` writes.
    """
    return kombu_envelopes(app, task, [args], queue)[0]


def kombu_envelopes(app, task: str, args_list: list[list], queue: str) -> list[bytes]:
    """Many messages for one task and queue. Celery builds the message once per process
    (`_template`); each message then fills in its own task id, arguments and delivery tag.
    Encoding the whole envelope as JSON per message cost more than pushing it."""
    parts = _template(app, task, queue)
    out = []
    for args in args_list:
        # one fresh uuid serves as task id and delivery tag: kombu only needs the tag to
        # be unique per message (it keys the unacked hash)
        task_id = str(uuid.uuid4())
        values = {_TASK_ID: task_id, _DELIVERY_TAG: task_id,
                  _ARGSREPR: json.dumps(repr(args))[1:-1],
                  _BODY: base64.b64encode(json.dumps([args, {}, _EMBED]).encode()).decode()}
        out.append("".join([values.get(part, part) for part in parts]).encode())
    return out


_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
# Placeholders in the envelope's JSON text; each message puts its own values there.
_TASK_ID, _ARGSREPR, _BODY, _DELIVERY_TAG = ("@@relay-task-id@@", "@@relay-argsrepr@@",
                                             "@@relay-body@@", "@@relay-delivery-tag@@")
_PLACEHOLDER_RE = re.compile("(" + "|".join((_TASK_ID, _ARGSREPR, _BODY, _DELIVERY_TAG)) + ")")


def _template(app, task: str, queue: str) -> list[str]:
    """Built once per process, task and queue: Celery's message builder costs a third of
    a millisecond, more than the push itself. Keyed by pid: `origin` names the process."""
    return _build_template(app, task, queue, os.getpid())


@functools.lru_cache(maxsize=64)
def _build_template(app, task: str, queue: str, pid: int) -> list[str]:
    """The envelope's JSON text split at its placeholders: [text, placeholder, text, ...]."""
    message = app.amqp.create_task_message(
        "00000000-0000-0000-0000-000000000000", task, [], {},
        origin=f"{pid}@{socket.gethostname()}", ignore_result=True,
    )
    content_type, content_encoding, body = serialization.dumps(message.body, serializer="json")
    if json.loads(body) != [[], {}, _EMBED]:  # Celery changed its body shape: fail loudly
        raise RuntimeError(f"unexpected Celery message body: {body!r}")
    properties = dict(message.properties)
    properties.update({
        "correlation_id": _TASK_ID,
        "delivery_mode": 2,
        "delivery_info": {"exchange": "", "routing_key": queue},
        "priority": 0,
        "body_encoding": "base64",
        "delivery_tag": _DELIVERY_TAG,
    })
    envelope = json.dumps({
        "body": _BODY,
        "content-encoding": content_encoding,
        "content-type": content_type,
        "headers": dict(message.headers, id=_TASK_ID, root_id=_TASK_ID, argsrepr=_ARGSREPR),
        "properties": properties,
    })
    return _PLACEHOLDER_RE.split(envelope)


def queue_depth(queue: str, client: redis.Redis | None = None) -> int | None:
    """Messages waiting in `queue`, or None when the broker cannot be reached."""
    if client is None and not is_redis():
        return amqp_queue_depth(queue)
    client = client or _client()
    try:
        pipe = client.pipeline(transaction=False)
        pipe.llen(queue)
        for step in _PRIORITY_STEPS:
            pipe.llen(f"{queue}{_PRIORITY_SEP}{step}")
        return int(sum(pipe.execute()))
    except redis.RedisError:
        return None


def queue_depths(queues, client: redis.Redis | None = None) -> dict[str, int | None]:
    return {q: queue_depth(q, client) for q in queues}


def unacked_count(client: redis.Redis | None = None) -> int | None:
    """Messages delivered to workers but not yet acknowledged (kombu's `unacked` hash).
    None on RabbitMQ: AMQP reports unacked counts only through the management API."""
    if client is None and not is_redis():
        return None
    client = client or _client()
    try:
        return int(client.hlen("unacked"))
    except redis.RedisError:
        return None
