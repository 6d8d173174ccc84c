"""What the email sync plugs into the runtime (imported via relay.bootstrap):
the `homeria` section of `relay status` and the `email_change` dead-letter replayer."""

from __future__ import annotations

from relay import bootstrap, deadletters
from relay.db import connection
from relay.status import register_section
from sync_worker import policy, reconcile, service, store
from sync_worker.runtime import runtime


def status_section() -> dict:
    rt = runtime()
    with connection() as conn:
        counts = store.counts_by_state(conn)
        last = reconcile.last_run(conn)
        conn.commit()
    return {
        "breaker": rt.breaker.snapshot(),
        "rate_limit": rt.bucket.snapshot(),
        "email_changes": counts,
        "reconciliation": last,
    }


register_section("homeria", status_section)
deadletters.register_replayer(store.KIND, service.replay)
deadletters.register_states(store.KIND, "email_changes", delivered=("synced", "superseded"))
bootstrap.config_check(policy.get_policy)
