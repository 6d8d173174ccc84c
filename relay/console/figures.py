"""The overview: `relay status --json` (the very same `relay.status.collect()`) plus the
figures the status has no room for, each with its target and a red/amber/green verdict.

The independent reads run side by side in a small thread pool: the slowest of them, not
their sum, sets the page's latency (`scripts/bench console`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from relay.console import ontime, queries, workers

TARGETS = {"sync_error_rate": 0.01, "consistency": 0.99, "otnr": 0.95}
_pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="console-figures")


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
    from relay.status import collect

    jobs = {"status": collect, "sync": queries.sync_rates, "ontime": ontime.windows,
            "by_reason": queries.dead_letters_by_reason,
            "by_age": queries.dead_letters_by_age,
            "oldest": queries.oldest_message_by_queue,
            "unsent_channel": lambda: queries.unsent_by("channel"),
            "unsent_type": lambda: queries.unsent_by("event_type"),
            "alerts": queries.latest_alerts}
    futures = {name: _pool.submit(fn) for name, fn in jobs.items()}
    got = {name: f.result() for name, f in futures.items()}
    status = got["status"]
    homeria = status.get("homeria", {})
    sync = got["sync"]
    recon = homeria.get("reconciliation") or {}
    sla_now = status.get("sla", {})
    windows = got["ontime"]["windows"]
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "targets": TARGETS,
        "status": status,
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
            "by_channel_7d": got["ontime"]["by_channel_7d"],
            "by_event_type_7d": got["ontime"]["by_event_type_7d"],
            "by_state": status.get("notifications", {}).get("by_state"),
        },
        "dead_letters": {
            "open": status.get("dead_letters", {}).get("open"),
            "oldest_open_age_s": status.get("dead_letters", {}).get("oldest_open_age_s"),
            "by_reason": got["by_reason"], "by_age": got["by_age"],
        },
        "queues": [{"name": q, "depth": depth, "oldest_age_s": got["oldest"].get(q)}
                   for q, depth in status.get("queues", {}).items()],
        "broker_reachable": status.get("broker_reachable"),
        "outbox": status.get("outbox"),
        "workers": workers.snapshot(),
        "alerts": got["alerts"],
    }
