"""The harness tests and benchmarks share (tests/support): its percentile and its process
stop, which must take a whole process group down with it."""

from __future__ import annotations

import math
import signal
from pathlib import Path

from tests.support.polling import wait_until
from tests.support.processes import Process, stop_all
from tests.support.stats import percentile


def test_percentile_is_nearest_rank_and_nan_when_empty():
    values = [float(v) for v in range(1, 101)]   # 1..100, shuffled order must not matter
    assert percentile(list(reversed(values)), 50) == 51.0   # rank round(0.5 * 99) = 50
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0 and percentile(values, 0) == 1.0
    assert math.isnan(percentile([], 50))


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_stop_takes_the_whole_process_group_down(tmp_path):
    # given a shell whose child would outlive a kill of the shell alone
    proc = Process(["sh", "-c", "sleep 60 & echo $!; wait"], None, tmp_path / "sh.log")
    child = int(wait_until(lambda: proc.log_path.read_text().strip(), timeout=10))
    # when it is stopped
    stop_all([proc], timeout=5)
    # then the child went with it
    assert not proc.alive() and proc.proc.returncode == -signal.SIGTERM
    assert wait_until(lambda: not _alive(child), timeout=5, message="the child to go")


def test_p50_p99_max_prints_the_nearest_rank_figures_and_nan_for_none():
    from tests.support.stats import p50_p99_max

    assert p50_p99_max([float(i) for i in range(1, 101)]) == "51.000 / 99.000 / 100.000"
    assert p50_p99_max([0.25], digits=1) == "0.2 / 0.2 / 0.2"
    assert p50_p99_max([]) == "nan / nan / nan"
