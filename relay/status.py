"""`relay status`: one snapshot of the system for on-call.

The runtime reports broker queues and the outbox backlog. Feature packages add their own
sections (breaker state, dead letters, OTNR, SLA heartbeat) with `register_section`, so
this module needs no knowledge of them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from relay import brokerinfo, outbox
from relay.logs import get_logger

log = get_logger(__name__)

_sections: dict[str, Callable[[], dict]] = {}


def register_section(name: str, fn: Callable[[], dict]) -> None:
    _sections[name] = fn


def queue_names() -> list[str]:
    from relay.celery_app import app

    return [q.name for q in app.conf.task_queues]


def collect() -> dict:
    doc: dict = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "queues": brokerinfo.queue_depths(queue_names()),
        "unacked": brokerinfo.unacked_count(),
        "outbox": outbox.backlog(),
    }
    # RabbitMQ reports no unacked count (brokerinfo.unacked_count): its queue depths tell
    doc["broker_reachable"] = (doc["unacked"] is not None if brokerinfo.is_redis()
                               else any(d is not None for d in doc["queues"].values()))
    for name, fn in _sections.items():
        try:
            doc[name] = fn()
        except Exception as exc:  # one broken section must not hide the others
            log.warning("status.section_failed", section=name, error=repr(exc))
            doc[name] = {"error": repr(exc)}
    return doc
