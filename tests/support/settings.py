"""Tests that change the environment see the change in relay's settings at once."""

from __future__ import annotations

import pytest


def _reload_settings() -> None:
    from relay.settings import reset_settings_cache

    reset_settings_cache()


class SettingsAwareMonkeyPatch(pytest.MonkeyPatch):
    """relay reads every variable through one cached registry (relay.settings): changing
    the environment drops the cache, so a test sees its value at once, and undo does too."""

    def setenv(self, name: str, value: str, prepend: str | None = None) -> None:
        super().setenv(name, value, prepend)
        _reload_settings()

    def delenv(self, name: str, raising: bool = True) -> None:
        super().delenv(name, raising)
        _reload_settings()

    def undo(self) -> None:
        super().undo()
        _reload_settings()
