"""The `sla` section of `relay status`, and the SLA's hooks into the runtime: the outbox
sweep asks whether the check is alive, and start-up validates the SLA_* tunables.
Imported by relay.bootstrap (FEATURE_MODULES) for these registrations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notifications.sla import reports
from notifications.sla.check import unsent_summary
from notifications.sla.config import config
from notifications.sla.heartbeat import check_heartbeat
from notifications.sla.math import TARGET_OTNR
from notifications.store import sla as store
from relay import bootstrap
from relay.status import register_section


def status_section() -> dict:
    """`relay status` section `sla`: heartbeat, OTNR 24 h, unsent / late, oldest age."""
    now = datetime.now(UTC)
    doc = {"heartbeat": check_heartbeat(now), **unsent_summary(now, config())}
    overall = reports.report(now - timedelta(hours=24), now, now)["overall"]
    doc["otnr_24h"] = overall["otnr"]
    doc["events_24h"] = overall["events"]
    doc["target"] = TARGET_OTNR
    doc["open_escalations"] = store.open_escalations()
    return doc


register_section("sla", status_section)
# The outbox sweep runs every few seconds on every deployment: it notices a silent check.
bootstrap.on_sweep(check_heartbeat)
bootstrap.config_check(config)
