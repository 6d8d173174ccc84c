"""Queue depth on RabbitMQ: a passive `queue.declare` answers with the ready-message count.

Callers poll it often (the promotions yield every 0.2 s, the sweep every few seconds), so
each process keeps one AMQP connection for it, opened on first use and dropped on any
error; an unreachable broker answers None, as Redis does in `brokerinfo.queue_depth`.
"""

from __future__ import annotations

import contextlib
import threading

from relay.logs import get_logger
from relay.perprocess import PerProcess
from relay.settings import get_settings

log = get_logger(__name__)

def _open() -> tuple[object, object]:
    from kombu import Connection

    conn = Connection(get_settings().broker, connect_timeout=2)
    conn.ensure_connection(max_retries=0)
    return conn, conn.channel()


def _release(held: tuple[object, object]) -> None:
    with contextlib.suppress(Exception):  # already broken: nothing to release
        held[0].release()


_held: PerProcess[tuple[object, object]] = PerProcess(_open, _release)  # (connection, channel)
_lock = threading.Lock()   # one AMQP channel serves one call at a time


def amqp_queue_depth(queue: str) -> int | None:
    """Ready messages in `queue` (0 if nobody declared it yet), None if unreachable."""
    from amqp.exceptions import NotFound

    with _lock:
        try:
            _, channel = _held.get()
            return int(channel.queue_declare(queue=queue, passive=True).message_count)
        except NotFound:  # the broker closed the channel; no worker declared it yet
            _held.reset()
            return 0
        except Exception as exc:
            log.warning("amqp.queue_depth_failed", queue=queue, error=repr(exc))
            _held.reset()
            return None
