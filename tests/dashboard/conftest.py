"""The browser for the dashboard tests: Debian's Chromium, driven by Playwright (it downloads no browser)."""

from __future__ import annotations

import pytest
from browser_helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from playwright.sync_api import expect, sync_playwright

# Waits are on events (a row changing, a response); on a busy 2-core machine the first summary of a fresh stack can
# take longer than Playwright's default 5 s.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
