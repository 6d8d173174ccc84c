"""Queue depth on RabbitMQ: a passive `queue.declare` answers with the ready-message count.

Callers poll it often (the promotions yield every 0.2 s, the sweep every few seconds), so
each process keeps one AMQP connection for it, opened on first use and dropped on any
error; an unreachable broker answers None, as Redis does in `brokerinfo.queue_depth`.
"""

from __future__ import annotations

import contextlib
import os
import threading

from relay.logs import get_logger
from relay.settings import get_settings

log = get_logger(__name__)

_lock = threading.Lock()
_held: tuple[int, object, object] | None = None  # (pid, kombu Connection, channel)


def amqp_queue_depth(queue: str) -> int | None:
    """Ready messages in `queue` (0 if nobody declared it yet), None if unreachable."""
    global _held
    from amqp.exceptions import NotFound
    from kombu import Connection

    with _lock:
        try:
            if _held is None or _held[0] != os.getpid():
                conn = Connection(get_settings().broker, connect_timeout=2)
                conn.ensure_connection(max_retries=0)
                _held = (os.getpid(), conn, conn.channel())
            _, _, channel = _held
            return int(channel.queue_declare(queue=queue, passive=True).message_count)
        except NotFound:  # the broker closed the channel; no worker declared it yet
            _drop()
            return 0
        except Exception as exc:
            log.warning("amqp.queue_depth_failed", queue=queue, error=repr(exc))
            _drop()
            return None


def _drop() -> None:
    global _held
    if _held is not None and _held[0] == os.getpid():
        with contextlib.suppress(Exception):  # already broken: nothing to release
            _held[1].release()
    _held = None
