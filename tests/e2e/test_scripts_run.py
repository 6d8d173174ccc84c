"""`scripts/run` as a newcomer uses it: everything comes up, every queue has a live
consumer, Flower asks for a password, the demo's work gets done, and stopping leaves
nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
import requests

from tests.support import ROOT, free_port, run_cli, wait_until

pytestmark = pytest.mark.e2e


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_scripts_run_brings_everything_up_and_stops_cleanly(relay_env, tmp_path):
    flower_port = free_port()
    env = dict(relay_env, FLOWER_PORT=str(flower_port), FLOWER_BASIC_AUTH="oncall:s3cret",
               RELAY_RUN_SECONDS="600")
    for var in ("HOMERIA_BASE_URL", "SMTP_URL", "SMS_API_URL", "PUSH_API_URL",
                "ONCALL_WEBHOOK_URL", "LOG_FORMAT"):
        env.pop(var, None)
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(ROOT / "scripts" / "run")], env=env, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: b"relay is running." in log_path.read_bytes()
                   or proc.poll() is not None, timeout=150, interval=0.5,
                   message="scripts/run to report it is running")
        output = log_path.read_text(errors="replace")
        assert proc.poll() is None, output[-3000:]
        # every queue answered the canary
        for queue in ("homeria", "notify.transactional", "notify.expedite",
                      "notify.promotions", "maintenance"):
            assert queue in output
        assert "TIMED OUT" not in output
        # Flower is up and asks for the password
        base = f"http://127.0.0.1:{flower_port}"
        assert requests.get(f"{base}/workers", timeout=5).status_code == 401
        ok = requests.get(f"{base}/workers", auth=("oncall", "s3cret"), timeout=5)
        assert ok.status_code == 200
        # ... and lists the live workers, both sync and both transactional processes included
        workers = requests.get(f"{base}/api/workers", params={"refresh": "1"},
                               auth=("oncall", "s3cret"), timeout=15).json()
        names = {name.split("@")[0] for name in workers}
        assert {"sync-1", "sync-2", "transactional-1", "transactional-2", "promotions",
                "maintenance"} <= names, names
        assert f"http://127.0.0.1:{flower_port}" in output
        # the demo producer's email changes reached Homeria and its order events were sent
        assert "demo email changes: {" in output and "'synced'" in output, output[-3000:]
        assert "'pending'" not in output.split("demo email changes:")[1].splitlines()[0]
        assert "demo notifications: {" in output and "'sent'" in output
        # a worker that dies is restarted by its supervisor, logged, and serves its queue again
        pid = next(info["stats"]["pid"] for name, info in workers.items()
                   if name.startswith("maintenance@"))
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: b"supervise: maintenance exited with status" in log_path.read_bytes(),
                   timeout=15, message="the supervisor to log the worker's exit")
        canary = run_cli(["canary", "-q", "maintenance", "--timeout", "60"], env)
        assert canary.returncode == 0, canary.stdout + canary.stderr
        assert proc.poll() is None
        # the HTTP API's printed curl example works as pasted
        _printed_curl_example_is_accepted(output)
        _printed_console_key_signs_in(output)
    finally:
        # Ctrl-C, as a person would
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    wait_until(lambda: not _group_alive(proc.pid), timeout=30,
               message="every process started by scripts/run to exit")


def _printed_curl_example_is_accepted(output: str) -> None:
    import re

    block = output[output.index("HTTP API:"):]
    block = block[:block.index("\n\n")]
    command = re.sub(r"\\\n\s*", " ", block[block.index("curl"):])
    command = command.replace("\n", " ")
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    assert '"change_id"' in result.stdout, result.stdout
    # and the example's customer exists at the stand-in: the change is applied, not dead
    url = re.search(r"(http://127\.0\.0\.1:\d+)/v1/email-changes", command).group(1)
    key = re.search(r"Bearer (\S+?)'", command).group(1)
    change = url + "/v1/email-changes/" + json.loads(result.stdout)["change_id"]
    wait_until(lambda: requests.get(change, headers={"Authorization": f"Bearer {key}"},
                                    timeout=5).json()["state"] == "synced",
               timeout=30, message="the printed example's change synced at Homeria")


def _printed_console_key_signs_in(output: str) -> None:
    import re

    url, key = re.search(r"Console:\s+(http://\S+)/\s+\(API key, scope operate: (\S+)\)",
                         output).groups()
    http = requests.Session()
    r = http.post(url + "/sign-in", data={"api_key": key}, headers={"Origin": url})
    assert r.status_code == 200 and "Overview" in r.text, r.text[:500]
    assert "Flower" in r.text  # FLOWER_URL is set: the nav links to it
