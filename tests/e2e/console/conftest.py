"""A real browser for the console: Playwright for Python driving Debian's Chromium
(`/usr/bin/chromium`, installed by scripts/lib/common.sh; Playwright's own browser
download is not available here). One browser per test session, one context per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.api.conftest import Api, api_with_sync, homeria, start_api  # noqa: F401

CHROMIUM = os.environ.get("RELAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SHOTS = Path(os.environ.get("RELAY_SCREENSHOTS", "")) if os.environ.get(
    "RELAY_SCREENSHOTS") else None


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium "
                    "(apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                      headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  service_workers="block")
    # Nothing on a console page may come from anywhere but the console itself.
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url.startswith("http://127.0.0.1") else route.abort())
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


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
