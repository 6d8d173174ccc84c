"""scripts/lib/supervise: what scripts/run starts every long-running process with."""

from __future__ import annotations

import os
import signal
import subprocess

from tests.support import ROOT, wait_until

SUPERVISE = str(ROOT / "scripts" / "lib" / "supervise")


def _start(tmp_path, *cmd: str) -> tuple[subprocess.Popen, object]:
    log = open(tmp_path / "supervise.log", "wb")
    env = dict(os.environ, SUPERVISE_MAX_DELAY="1")
    proc = subprocess.Popen([SUPERVISE, "demo", *cmd], stdout=log, stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)
    return proc, log


def test_a_process_that_exits_is_restarted_with_backoff_and_logged(tmp_path):
    runs = tmp_path / "runs"
    # given a process that exits with status 3 every time it starts
    proc, log = _start(tmp_path, "bash", "-c", f"echo run >> {runs}; exit 3")
    try:
        # then it is started again, each exit logged with its status and the restart count
        wait_until(lambda: runs.exists() and len(runs.read_text().splitlines()) >= 3,
                   timeout=15, message="three runs")
        output = (tmp_path / "supervise.log").read_text()
        assert "supervise: demo exited with status 3" in output
        assert "restart #2 in 1 s" in output
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        log.close()
    # and once stopped, it stays stopped
    count = len(runs.read_text().splitlines())
    assert proc.poll() == 0
    assert len(runs.read_text().splitlines()) == count


def test_sigterm_stops_the_process_and_the_supervisor_without_a_restart(tmp_path):
    # given a long-running supervised process
    proc, log = _start(tmp_path, "sleep", "300")
    try:
        wait_until(lambda: subprocess.run(["pgrep", "-g", str(proc.pid), "-x", "sleep"],
                                          capture_output=True).returncode == 0,
                   timeout=10, message="sleep started")
        # when the supervisor alone gets SIGTERM (not its whole group)
        proc.send_signal(signal.SIGTERM)
        # then it stops its child and exits 0, logging no restart
        assert proc.wait(timeout=10) == 0
        assert subprocess.run(["pgrep", "-g", str(proc.pid)],
                              capture_output=True).returncode == 1, "child left running"
        assert "restart" not in (tmp_path / "supervise.log").read_text()
    finally:
        log.close()
