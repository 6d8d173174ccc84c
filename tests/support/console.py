"""The console in a real browser: screenshots for docs/ and signing in."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.api import Api

SHOTS = Path(os.environ["RELAY_SCREENSHOTS"]) if os.environ.get("RELAY_SCREENSHOTS") else None


def shot(page, name: str) -> None:
    """Screenshots for docs/ (README "Console"): written when RELAY_SCREENSHOTS names a
    folder, e.g. `RELAY_SCREENSHOTS=docs scripts/test tests/e2e/console`."""
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"console-{name}.png"), full_page=False)


def sign_in(page, api: Api, key: str) -> None:
    page.goto(api.url + "/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(api.url + "/")
