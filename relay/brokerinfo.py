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
import socket
import uuid

import redis
from kombu import serialization

from relay.settings import get_settings

_ORIGIN = f"{os.getpid()}@{socket.gethostname()}"
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


@functools.lru_cache(maxsize=1)
def _client() -> redis.Redis:
    return redis.Redis.from_url(get_settings().redis_url, socket_timeout=5,
                                socket_connect_timeout=2)


def client() -> redis.Redis:
    """The process's Redis client for the broker database (thread-safe, pooled)."""
    return _client()


def kombu_envelope(app, task: str, args: list, queue: str) -> bytes:
    """One task message exactly as Celery + kombu's Redis transport store it.

    Celery builds the protocol-2 headers and body; kombu serializes the body (JSON) and
    wraps it in the envelope its Redis channel writes: base64 body, delivery_info with the
    routing key, a delivery tag. A unit test compares this with what `send_task` writes.
    """
    task_id = str(uuid.uuid4())
    message = app.amqp.create_task_message(
        task_id, task, args, {}, origin=_ORIGIN, ignore_result=True,
    )
    content_type, content_encoding, body = serialization.dumps(message.body, serializer="json")
    if isinstance(body, str):
        body = body.encode(content_encoding or "utf-8")
    properties = dict(message.properties)
    properties.update({
        "delivery_mode": 2,
        "delivery_info": {"exchange": "", "routing_key": queue},
        "priority": 0,
        "body_encoding": "base64",
        "delivery_tag": str(uuid.uuid4()),
    })
    envelope = {
        "body": base64.b64encode(body).decode(),
        "content-encoding": content_encoding,
        "content-type": content_type,
        "headers": message.headers,
        "properties": properties,
    }
    return json.dumps(envelope).encode()


def queue_depth(queue: str, client: redis.Redis | None = None) -> int | None:
    """Messages waiting in `queue`, or None when Redis cannot be reached."""
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
    """Messages delivered to workers but not yet acknowledged (kombu's `unacked` hash)."""
    client = client or _client()
    try:
        return int(client.hlen("unacked"))
    except redis.RedisError:
        return None
