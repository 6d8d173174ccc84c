"""The 2-hour promise: its window and the beat check that keeps it (notifications/sla)."""

from __future__ import annotations

from relay.settings.group import BLANK_DEFAULT, Group, seconds, setting


class SlaSettings(Group):
    notification_sla_seconds: int = setting(7200, "NOTIFICATION_SLA_SECONDS",
                                            "the timeliness window", gt=0)
    sla_warn_seconds: float = seconds(
        3600, "SLA_WARN_SECONDS", "unsent transactional notifications this old are"
        " expedited", blank=BLANK_DEFAULT)
    sla_escalate_after: int = setting(
        3, "SLA_ESCALATE_AFTER", "breaches for one customer within 24 h that flag"
        " personal follow-up", gt=0, blank=BLANK_DEFAULT)
    sla_predict_horizon_seconds: float = seconds(
        1800, "SLA_PREDICT_HORIZON_SECONDS", "alert when the backlog will breach within"
        " this", blank=BLANK_DEFAULT)
    sla_drain_window_seconds: float = seconds(
        600, "SLA_DRAIN_WINDOW_SECONDS", "window over which the drain rate is measured",
        blank=BLANK_DEFAULT)
    sla_heartbeat_stale_seconds: float = seconds(
        300, "SLA_HEARTBEAT_STALE_SECONDS", "the SLA check silent this long = dead-man"
        " alert", blank=BLANK_DEFAULT)
    sla_check_batch: int = setting(1000, "SLA_CHECK_BATCH", "rows expedited / breached per"
                                   " check", gt=0, blank=BLANK_DEFAULT)
    # Were constants in code (the beat schedule in celeryconfig.py).
    sla_check_seconds: float = seconds(
        60, "SLA_CHECK_SECONDS", "how often beat runs the SLA check", ge=1, le=3600,
        blank=BLANK_DEFAULT)
    sla_rollup_seconds: float = seconds(
        600, "SLA_ROLLUP_SECONDS", "how often beat refreshes the SLA rollups", ge=10,
        blank=BLANK_DEFAULT)
