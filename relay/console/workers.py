"""Live workers for the overview, from a Celery broadcast ping.

A ping waits for replies (~1 s), far too slow for a page that must answer in 300 ms, and
with task events off there is no event stream to read instead. So one background thread
per process pings at most every REFRESH_S and the overview shows the last answer with its
age; the first request of a process starts it and sees "not checked yet".
"""

from __future__ import annotations

import threading
import time

from relay.logs import get_logger

log = get_logger(__name__)

REFRESH_S = 10.0
PING_TIMEOUT_S = 1.0

_lock = threading.Lock()
_last: dict = {"workers": None, "checked_at": None, "error": None}
_running = False


def snapshot() -> dict:
    """The last ping's answer; starts a refresh in the background when it is stale."""
    global _running
    with _lock:
        stale = _last["checked_at"] is None or time.time() - _last["checked_at"] > REFRESH_S
        if stale and not _running:
            _running = True
            threading.Thread(target=_refresh, name="console-ping", daemon=True).start()
        doc = dict(_last)
    doc["age_s"] = None if doc["checked_at"] is None else round(time.time() - doc["checked_at"], 1)
    return doc


def _refresh() -> None:
    global _running
    try:
        from relay.celery_app import app

        replies = app.control.ping(timeout=PING_TIMEOUT_S) or []
        names = sorted(name for reply in replies for name in reply)
        result = {"workers": names, "error": None}
    except Exception as exc:  # the broker is down: say so on the page, keep serving
        log.warning("console.ping_failed", error=repr(exc))
        result = {"workers": None, "error": exc.__class__.__name__}
    with _lock:
        _last.update(result, checked_at=time.time())
        _running = False
