"""Logs, metrics and Sentry."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import field_validator

from relay.settings.group import BLANK_UNSET, Group, setting


class TelemetrySettings(Group):
    log_level: str = setting("INFO", "LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR")
    log_format: Literal["json", "console"] = setting(
        "json", "LOG_FORMAT", "json (one line per event) or console (people)")
    sentry_dsn: str | None = setting(None, "SENTRY_DSN", "Sentry's DSN; unset: Sentry off",
                                     blank=BLANK_UNSET)
    sentry_environment: str = setting("development", "SENTRY_ENVIRONMENT",
                                      "Sentry environment tag")
    metrics_port: int = setting(0, "METRICS_PORT",
                                "each worker serves Prometheus /metrics here; 0 = off",
                                ge=0, le=65535)
    # Read by prometheus_client itself: a directory that is not there would fail the
    # exporter much later.
    prometheus_multiproc_dir: str | None = setting(
        None, "PROMETHEUS_MULTIPROC_DIR", "prometheus_client's multiprocess directory")

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return v

    @field_validator("prometheus_multiproc_dir", mode="before")
    @classmethod
    def _existing_dir(cls, v):
        return existing_path(v, want_dir=True)


def existing_path(v, *, want_dir: bool = False):
    """Blank is unset; otherwise the file (or directory) must be there."""
    if isinstance(v, str) and not v.strip():
        return None
    if v is not None:
        found = os.path.isdir(v) if want_dir else os.path.exists(v)
        if not found:
            raise ValueError(f"{'directory' if want_dir else 'file'} {v!r} does not exist")
    return v
