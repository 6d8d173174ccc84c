"""Test and benchmark support: the one home of helpers shared by tests/ and scripts/.

Test modules and conftest files import helpers from here, never from a conftest file or
another test module (tests/unit/test_test_layout.py checks it). Conftest files only
define (or re-export) fixtures. The benchmarks and the soak (scripts/) use the same
throwaway databases, processes and percentiles.

- polling: wait_until (a poll with a deadline);
- processes: free ports, spawning and stopping process groups, workers, beat, the API,
  stand-ins, the CLI;
- databases: throwaway databases, truncation, Redis flushing;
- servers, brokers: private PostgreSQL/Redis clusters, Sentinel sets, RabbitMQ;
- stats, cpu, bench: percentiles, CPU time from /proc, a benchmark's start, argparse and
  tables;
- events, rows: order-event documents; reading the database as a test checks it;
- settings: a monkeypatch whose environment changes reach relay.settings at once;
- homeria, sync, notifications, sla, dlq, api, console, privacy, tcpproxy: per-domain
  fixtures (re-exported by the conftest files that use them), documents and readers.

Nothing here ships in the runtime wheel (pyproject: packages relay*, sync_worker*,
notifications* only).
"""

from tests.support.polling import wait_until
from tests.support.processes import ROOT, BeatProcess, WorkerProcess, free_port, run_cli

__all__ = ["ROOT", "BeatProcess", "WorkerProcess", "free_port", "run_cli", "wait_until"]
