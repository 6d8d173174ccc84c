"""Composition root: the feature packages plugged into the runtime.

Each module named here registers what it adds to shared machinery when imported —
`relay status` sections, dead-letter replayers, status-independent hooks — so the runtime
never imports feature code by name anywhere else.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

FEATURE_MODULES: tuple[str, ...] = ("relay.deadletters", "relay.canary",
                                    "notifications.oncall", "sync_worker.ops",
                                    "notifications.sla.status", "relay.watchdog",
                                    "relay.beatlease")

_loaded = False
_sweep_hooks: list[Callable[[], object]] = []


def on_sweep(fn: Callable[[], object]) -> Callable[[], object]:
    """Run `fn` on every outbox sweep (every few seconds, on the maintenance worker).

    For watchdogs: a dead-man switch must be checked by something other than the job it
    watches, and the sweep is the one job every deployment runs. Hooks must not raise.
    """
    _sweep_hooks.append(fn)
    return fn


_config_checks: list[Callable[[], object]] = []


def config_check(fn: Callable[[], object]) -> Callable[[], object]:
    """Register a feature's own start-up check (it raises ConfigurationError naming the
    variable). Every variable is a settings field, validated by `get_settings()`; a check
    here is for what one field cannot say alone."""
    _config_checks.append(fn)
    return fn


def check_config() -> None:
    """Validate every variable relay reads (the settings registry) and run the features'
    checks, when a process starts: a malformed value stops the worker, beat, CLI or API
    with one line naming it instead of failing inside a task later."""
    from relay.settings import get_settings

    get_settings()
    load_features()
    for fn in _config_checks:
        fn()


def run_sweep_hooks() -> None:
    for fn in _sweep_hooks:
        fn()


def load_features() -> None:
    global _loaded
    if _loaded:
        return
    for name in FEATURE_MODULES:
        importlib.import_module(name)
    _loaded = True
