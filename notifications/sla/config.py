"""The SLA's tunables, read from the environment at call time.

| SLA_WARN_SECONDS | age at which unsent rows are expedited | 3600 |
| SLA_ESCALATE_AFTER | breaches per customer within 24 h that escalate | 3 |
| SLA_PREDICT_HORIZON_SECONDS | alert when a breach is predicted within this | 1800 |
| SLA_DRAIN_WINDOW_SECONDS | window over which the drain rate is measured | 600 |
| SLA_HEARTBEAT_STALE_SECONDS | check silent this long = dead-man alert | 300 |
| SLA_CHECK_BATCH | max rows expedited / breached per run | 1000 |
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from notifications.policy import positive_number

_DEFAULTS = {"SLA_WARN_SECONDS": 3600, "SLA_ESCALATE_AFTER": 3,
             "SLA_PREDICT_HORIZON_SECONDS": 1800, "SLA_DRAIN_WINDOW_SECONDS": 600,
             "SLA_HEARTBEAT_STALE_SECONDS": 300, "SLA_CHECK_BATCH": 1000}


@dataclass(frozen=True)
class Config:
    sla_s: float
    warn_s: float
    escalate_after: int
    predict_horizon_s: float
    drain_window_s: float
    heartbeat_stale_s: float
    batch: int


def _env(name: str, cast=float):
    raw = os.environ.get(name, "").strip() or str(_DEFAULTS[name])
    return positive_number(name, raw, cast)


def config() -> Config:
    from relay.settings import get_settings

    return Config(
        sla_s=float(get_settings().notification_sla_seconds),
        warn_s=_env("SLA_WARN_SECONDS"), escalate_after=_env("SLA_ESCALATE_AFTER", int),
        predict_horizon_s=_env("SLA_PREDICT_HORIZON_SECONDS"),
        drain_window_s=_env("SLA_DRAIN_WINDOW_SECONDS"),
        heartbeat_stale_s=_env("SLA_HEARTBEAT_STALE_SECONDS"),
        batch=_env("SLA_CHECK_BATCH", int))
