"""The soak's supervisor restarts whatever exits, but counts only the exits it did not
cause: a worker dying on a Redis restart must fail the soak even though it came back."""

from __future__ import annotations

import os
import signal
import sys

from tests.support import ROOT, wait_until

sys.path.insert(0, str(ROOT / "scripts"))

from soaklib.supervisor import Managed, Supervisor


def test_an_exit_the_soak_did_not_cause_is_recorded_and_the_process_restarted(tmp_path):
    supervisor = Supervisor()
    proc = supervisor.add(Managed("sleeper", ["sleep", "60"], dict(os.environ), tmp_path,
                                  tmp_path))
    supervisor.run()
    try:
        # when the soak kills it on purpose
        first = proc.proc.pid
        supervisor.kill("sleeper", hold_s=0.2)
        wait_until(lambda: proc.proc is not None and proc.proc.pid != first, timeout=10,
                   message="the deliberate kill to be followed by a restart")
        assert supervisor.unexpected == {}
        # when it dies on its own
        second = proc.proc.pid
        os.killpg(second, signal.SIGKILL)
        wait_until(lambda: proc.proc is not None and proc.proc.pid != second, timeout=10,
                   message="the unexpected exit to be followed by a restart")
        # then
        assert list(supervisor.unexpected) == ["sleeper"]
        assert supervisor.unexpected["sleeper"][0].startswith("exit -9")
        assert proc.restarts == 2
    finally:
        supervisor.stop_all(timeout=5)
    assert proc.proc.poll() is not None
