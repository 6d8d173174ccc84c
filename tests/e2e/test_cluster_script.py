"""`scripts/cluster` end to end: three network-namespace hosts, one cut off mid-run."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.support import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.timeout(600)
@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_worker_host_cut_off_mid_run_loses_nothing_and_its_beat_role_moves():
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL"} and not k.startswith("PYTEST_")}
    result = subprocess.run([str(ROOT / "scripts" / "cluster"), "--customers", "40"],
                            capture_output=True, text=True, env=env, timeout=580)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(result.stdout[result.stdout.index("{"):result.stdout.rindex("}") + 1])
    assert figures["problems"] == []
    assert figures["beat_lease_moved_after_s"] < 60
    assert figures["longest_delivery_stall_s"] < 60
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "rly" not in listed, f"namespaces left behind: {listed}"
