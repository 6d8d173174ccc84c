"""Composition root: the feature packages plugged into the runtime.

Each module named here registers what it adds to shared machinery when imported —
`relay status` sections, dead-letter replayers, status-independent hooks — so the runtime
never imports feature code by name anywhere else.
"""

from __future__ import annotations

import importlib

FEATURE_MODULES: tuple[str, ...] = ("relay.deadletters", "relay.canary", "notifications.ops")

_loaded = False


def load_features() -> None:
    global _loaded
    if _loaded:
        return
    for name in FEATURE_MODULES:
        importlib.import_module(name)
    _loaded = True
