"""A real browser for the console: Playwright for Python driving Debian's Chromium
(`/usr/bin/chromium`, installed by scripts/lib/common.sh; Playwright's own browser
download is not available here). One browser per test session, one context per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.api import api_with_sync, start_api  # noqa: F401 - fixtures
from tests.support.homeria import homeria  # noqa: F401 - fixture

CHROMIUM = os.environ.get("RELAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


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

