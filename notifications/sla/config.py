"""The SLA's tunables: the SLA group of the settings registry (relay/settings/sla.py),
validated when a process starts.

| SLA_WARN_SECONDS | age at which unsent rows are expedited | 3600 |
| SLA_ESCALATE_AFTER | breaches per customer within 24 h that escalate | 3 |
| SLA_PREDICT_HORIZON_SECONDS | alert when a breach is predicted within this | 1800 |
| SLA_DRAIN_WINDOW_SECONDS | window over which the drain rate is measured | 600 |
| SLA_HEARTBEAT_STALE_SECONDS | check silent this long = dead-man alert | 300 |
| SLA_CHECK_BATCH | max rows expedited / breached per run | 1000 |
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    sla_s: float
    warn_s: float
    escalate_after: int
    predict_horizon_s: float
    drain_window_s: float
    heartbeat_stale_s: float
    batch: int


def config() -> Config:
    """The SLA group of the settings registry (relay/settings/sla.py), validated at
    start-up with every other variable."""
    from relay.settings import get_settings

    s = get_settings()
    return Config(
        sla_s=float(s.notification_sla_seconds), warn_s=s.sla_warn_seconds,
        escalate_after=s.sla_escalate_after, predict_horizon_s=s.sla_predict_horizon_seconds,
        drain_window_s=s.sla_drain_window_seconds,
        heartbeat_stale_s=s.sla_heartbeat_stale_seconds, batch=s.sla_check_batch)
