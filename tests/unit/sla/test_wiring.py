"""The SLA's wiring: beat entries, task names, the dashboard's metric names."""

from __future__ import annotations

import json
import re
from pathlib import Path

from relay import metrics

ROOT = Path(__file__).resolve().parents[3]


def test_the_beat_runs_the_check_every_minute_on_maintenance():
    import celeryconfig

    entries = {e["task"]: e for e in celeryconfig.beat_schedule.values()}
    check = entries["notifications.sla.check"]
    assert check["schedule"] == 60 and check["options"]["queue"] == "maintenance"
    assert entries["notifications.sla.rollup"]["options"]["queue"] == "maintenance"
    assert "notifications.sla.tasks" in celeryconfig.imports


def test_the_dashboard_only_uses_metrics_that_exist():
    doc = json.loads((ROOT / "relay/dashboards/grafana-relay.json").read_text())
    exprs = " ".join(t["expr"] for p in doc["panels"] for t in p["targets"])
    known = set()
    for value in vars(metrics).values():
        if not isinstance(value, metrics.Counter | metrics.Gauge | metrics.Histogram):
            continue
        for family in value.describe():
            known |= {family.name, f"{family.name}_total", f"{family.name}_bucket"}
    used = set(re.findall(r"\brelay_[a-z_]+", exprs))
    assert used and used <= known, used - known
    titles = " ".join(p["title"] for p in doc["panels"]).lower()
    for topic in ("otnr", "channel", "p99", "oldest unsent", "breaches", "dead letters",
                  "queue depth"):
        assert topic in titles
