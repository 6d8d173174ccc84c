"""A workaround in kombu's Redis transport: a Redis restart must not make a worker exit.

What happens (kombu 5.7 / Celery 5.7 / redis-py 8.1; reproduced deterministically by
tests/integration/relay/test_brokerfix.py; tests/e2e/test_broker_restart.py holds the
promise end to end with real workers):

1. Redis goes away while a worker holds unacked messages (acks_late: every task in
   flight). Celery's consumer calls `connection.collect()`, which closes the channels
   through kombu's `virtual.Transport.close_connection` — a plain loop with no error
   handling. The first channel whose `close()` needs Redis (restoring its unacked messages,
   reading a pending BRPOP) raises `ConnectionError`, and the loop stops there: the other
   channels are never closed. `Connection._do_close_self` swallows the error, then
   `_do_close_transport` detaches the transport (`transport.client = None`).
2. Celery's consumer steps then close the channels left open (the task consumer's, holding
   the unacked messages of the tasks in flight). `restore_unacked` asks for a new Redis
   pool, `_connparams` reads `transport.client.hostname` → `AttributeError: 'NoneType'
   object has no attribute 'hostname'`. Celery does not count AttributeError as a
   connection error: "Unrecoverable error", the worker exits.
3. Guarding only that call is not enough: a task in flight finishes later and acks on its
   now-closed channel (`channel.connection` is None) → `AttributeError: ... 'client'`,
   raised in the worker's event loop → the worker exits again.

Upstream, the same family: https://github.com/celery/kombu/issues/582 (the `hostname`
error on closing a channel after the connection was released),
https://github.com/celery/celery/issues/10205 and its reopening #10302 (worker stops after a
Redis connection reset), https://github.com/celery/celery/issues/9054 (worker stops
consuming after a Redis restart), https://github.com/celery/celery/issues/8091. None is
fixed in the release we run; no setting avoids it (acks_late is what we need).

The fix, at the place it goes wrong:
- `close_connection` closes *every* channel, even when one fails (the first error is
  re-raised at the end, as before), so no channel outlives its transport;
- a channel whose transport was released (closed, or detached) no longer touches Redis:
  restoring its unacked messages and acking/rejecting on it are skipped with a log line.

Why skipping is safe for relay: the broker connection those messages came over is gone.
If Redis kept its data, kombu's `unacked` hash still holds them and they are redelivered
after the visibility timeout (tasks are idempotent: a second run finds the work done); if
Redis lost its data, nothing is left to ack, and the outbox sweep re-publishes every
committed row that is not done (relay/outbox.py). PostgreSQL is the truth, not Redis.

A second bug of the same kind hits the prefork pool (a prefork worker died at its second
reconnect in our repeated Redis restart runs): see `_track_child_process` below; upstream https://github.com/celery/celery/issues/9250
and the open fix https://github.com/celery/celery/pull/10318 (same family, AttributeError).

Remove this module once kombu closes every channel on a failed connection
(`tests/integration/relay/test_brokerfix.py::test_upstream_bug_is_still_there` fails then).
"""

from __future__ import annotations

import functools
import logging

from celery.concurrency import asynpool
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

log = logging.getLogger(__name__)

# The originals, kept so a test can prove the upstream bug is still there.
ORIGINALS = {
    "close_connection": virtual.Transport.close_connection,
    "restore_unacked": kombu_redis.QoS.restore_unacked,
    "ack": kombu_redis.QoS.ack,
    "reject": kombu_redis.QoS.reject,
    "track_child_process": asynpool.AsynPool._track_child_process,
}
_installed = False


def _detached(qos) -> bool:
    """True when the channel's transport was released: it can no longer reach Redis."""
    transport = getattr(qos.channel, "connection", None)
    return transport is None or transport.client is None


def _close_connection(self, connection) -> None:
    """kombu's loop, but one channel failing does not leave the others open."""
    first_error: BaseException | None = None
    self.cycle.close()
    for chan_list in self._avail_channels, self.channels:
        while chan_list:
            try:
                channel = chan_list.pop()
            except LookupError:  # pragma: no cover - emptied by another thread
                break
            try:
                channel.close()
            except Exception as exc:  # the broker is gone: close the rest anyway
                first_error = first_error or exc
    if first_error is not None:
        raise first_error


def _restore_unacked(self, client=None):
    if client is None and _detached(self):
        log.warning("broker.restore_skipped: %d unacked message(s) left to the visibility "
                    "timeout and the outbox sweep (connection gone)", len(self._delivered))
        self._delivered.clear()
        return None
    return ORIGINALS["restore_unacked"](self, client)


def _ack(self, delivery_tag):
    if _detached(self):
        log.info("broker.ack_skipped: the message's connection is gone; it is redelivered "
                 "after the visibility timeout if Redis kept it (the task is idempotent)")
        return virtual.QoS.ack(self, delivery_tag)
    return ORIGINALS["ack"](self, delivery_tag)


def _reject(self, delivery_tag, requeue=False):
    if _detached(self):
        log.info("broker.reject_skipped: the message's connection is gone")
        return virtual.QoS.ack(self, delivery_tag)
    return ORIGINALS["reject"](self, delivery_tag, requeue=requeue)


def _track_child_process(self, proc, hub):
    """Prefork: on a lost connection Celery untracks each child and sets its
    `_sentinel_poll` to None (celery#10086); re-registering after the reconnect then passes
    that None to the event loop → `ValueError('file descriptor is None')`, "Unrecoverable
    error". Let the original duplicate the child's sentinel again, as on first start."""
    if getattr(proc, "_sentinel_poll", 0) is None:
        del proc._sentinel_poll
    return ORIGINALS["track_child_process"](self, proc, hub)


def install() -> None:
    """Patch kombu's Redis transport (idempotent). Called when relay's Celery app loads, so
    every worker, beat and producer gets it."""
    global _installed
    if _installed:
        return
    kombu_redis.Transport.close_connection = functools.wraps(
        ORIGINALS["close_connection"])(_close_connection)
    kombu_redis.QoS.restore_unacked = functools.wraps(ORIGINALS["restore_unacked"])(
        _restore_unacked)
    kombu_redis.QoS.ack = functools.wraps(ORIGINALS["ack"])(_ack)
    kombu_redis.QoS.reject = functools.wraps(ORIGINALS["reject"])(_reject)
    asynpool.AsynPool._track_child_process = functools.wraps(
        ORIGINALS["track_child_process"])(_track_child_process)
    _installed = True
