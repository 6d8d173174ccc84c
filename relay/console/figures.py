"""The overview: `relay status --json` (the very same `relay.status.collect()`) plus the
figures the status has no room for, each with its target and a red/amber/green verdict.

`collect()` and the 1/7/30-day on-time figures count live rows (the status's 24-hour SLA
section, today's events): they come from relay.console.cache, recomputed in the
background once older than a few seconds. Everything that moves fast — dead letters,
queue depths, unsent and late notifications, the sync's rates — is read on every
request, side by side in a small thread pool (`scripts/bench console` measures both).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from relay.console import ontime, queries, workers
from relay.console.cache import Refreshing

TARGETS = {"sync_error_rate": 0.01, "consistency": 0.99, "otnr": 0.95}
STATUS_MAX_AGE_S = 4.0
ONTIME_MAX_AGE_S = 30.0
_pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="console-figures")


def _collect() -> dict:
    from relay.status import collect

    return collect()


status_cache = Refreshing(_collect, STATUS_MAX_AGE_S)
ontime_cache = Refreshing(ontime.windows, ONTIME_MAX_AGE_S)


def _unsent() -> dict:
    from notifications.sla.check import unsent_summary
    from notifications.sla.config import config

    return unsent_summary(datetime.now(UTC), config())


def _homeria() -> dict:
    from sync_worker.ops import status_section

    return status_section()


def _queue_depths() -> dict:
    from relay import brokerinfo
    from relay.status import queue_names

    return brokerinfo.queue_depths(queue_names())


def rag_at_most(value: float | None, target: float) -> str:
    """Lower is better: green within the target, amber within twice it, red beyond."""
    if value is None:
        return "none"
    return "green" if value <= target else "amber" if value <= 2 * target else "red"


def rag_at_least(value: float | None, target: float) -> str:
    """Higher is better: green at the target, amber within its shortfall again, red below."""
    if value is None:
        return "none"
    return "green" if value >= target else "amber" if value >= 2 * target - 1 else "red"


def _breaker_rag(state: str | None) -> str:
    return {"closed": "green", "half_open": "amber", "open": "red"}.get(state or "", "none")


def overview() -> dict:
    """Everything the overview shows, unmasked: callers mask for the principal."""
    from relay import deadletters

    jobs = {"status": status_cache.get, "ontime": ontime_cache.get,
            "sync": queries.sync_rates, "homeria": _homeria, "depths": _queue_depths,
            "dead": deadletters.status_section, "unsent": _unsent,
            "by_reason": queries.dead_letters_by_reason,
            "by_age": queries.dead_letters_by_age,
            "oldest": queries.oldest_message_by_queue,
            "unsent_channel": lambda: queries.unsent_by("channel"),
            "unsent_type": lambda: queries.unsent_by("event_type"),
            "alerts": queries.latest_alerts}
    futures = {name: _pool.submit(fn) for name, fn in jobs.items()}
    got = {name: f.result() for name, f in futures.items()}
    (status, status_age), (on_time, on_time_age) = got["status"], got["ontime"]
    homeria = got["homeria"]
    sync = got["sync"]
    recon = homeria.get("reconciliation") or {}
    sla_now, dead = got["unsent"], got["dead"]
    windows = on_time["windows"]
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "targets": TARGETS,
        "status": status, "status_age_s": status_age, "on_time_age_s": on_time_age,
        "sync": {
            **sync,
            "error_rag": rag_at_most(sync["error_rate"], TARGETS["sync_error_rate"]),
            "consistency": recon.get("consistency"),
            "consistency_rag": rag_at_least(recon.get("consistency"), TARGETS["consistency"]),
            "reconciled_at": recon.get("ran_at"),
            "breaker": homeria.get("breaker"),
            "breaker_rag": _breaker_rag((homeria.get("breaker") or {}).get("state")),
            "rate_limit": homeria.get("rate_limit"),
            "by_state": homeria.get("email_changes"),
        },
        "notifications": {
            "windows": {name: {**w, "rag": rag_at_least(w["otnr"], TARGETS["otnr"])}
                        for name, w in windows.items()},
            "unsent": sla_now.get("unsent"), "at_risk": sla_now.get("at_risk"),
            "late": sla_now.get("late"),
            "oldest_unsent_age_s": sla_now.get("oldest_unsent_age_s"),
            "unsent_by_channel": got["unsent_channel"],
            "unsent_by_event_type": got["unsent_type"],
            "by_channel_7d": on_time["by_channel_7d"],
            "by_event_type_7d": on_time["by_event_type_7d"],
            "by_state": status.get("notifications", {}).get("by_state"),
        },
        "dead_letters": {
            "open": dead["open"], "oldest_open_age_s": dead["oldest_open_age_s"],
            "open_by_kind": dead["open_by_kind"],
            "by_reason": got["by_reason"], "by_age": got["by_age"],
        },
        "queues": [{"name": q, "depth": depth, "oldest_age_s": got["oldest"].get(q)}
                   for q, depth in got["depths"].items()],
        "outbox": status.get("outbox"),
        "workers": workers.snapshot(),
        "alerts": got["alerts"],
    }
