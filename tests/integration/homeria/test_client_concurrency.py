"""One shared client, many threads: the shape of a threaded Celery worker."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from sync_worker.errors import Outcome


def test_parallel_changes_all_sync_over_one_session(homeria, client, make_change):
    for n in range(200):
        homeria.state.seed("globex", "FR", f"c{n}@example.com")
    homeria.faults.update(latency_ms=20)
    changes = [make_change(f"c{n}@example.com", f"n{n}@example.com", brand="globex",
                           country="FR") for n in range(200)]
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(client.send_change, changes))
    assert {r.outcome for r in results} == {Outcome.SYNCED}
    assert len(homeria.state.applied_changes) == 200


def test_concurrent_duplicates_apply_once(homeria, client, make_change):
    change = make_change("ana@example.com", "ana.s@example.com", change_id=uuid.uuid4())
    barrier = threading.Barrier(16)

    def send(_):
        barrier.wait()
        return client.send_change(change)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(send, range(16)))
    assert sorted(r.reason for r in results) == ["already_applied"] * 15 + ["applied"]
    assert len(homeria.state.applied_changes) == 1
