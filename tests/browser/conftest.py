"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser) against a live server.

One server for the whole session (each test uses repositories of its own); one browser; a fresh
context (cookies, storage) per test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import PASSWORD, LiveServer, start_live_server, stop_live_server
from tests.conftest import require_real_part

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 15_000

try:
    from playwright.sync_api import Browser, Page, sync_playwright

    PLAYWRIGHT = True
except ImportError:  # the test extras are not installed
    PLAYWRIGHT = False


# Package scope, not session: the sync API keeps an event loop running in this thread while it
# is open, so it must close before the asyncio tests of the next package start.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    require_real_part(PLAYWRIGHT, "playwright is not installed (pip install -e '.[test]')")
    require_real_part(os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing (apt-get install chromium)")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path_factory.mktemp("browser-data"))
    try:
        yield server
    finally:
        stop_live_server(server)


@pytest.fixture
def new_page(browser: Browser, live: LiveServer) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh browser context (its own cookies) at the given viewport."""
    contexts: list[Any] = []

    def open_page(width: int = 1280, height: int = 800) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=live.url)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Sign in with the keyboard, as a person would: type, Tab, type, Enter."""
    page.goto("/signin")
    page.get_by_label("Username").fill(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_url("**/repositories")


@pytest.fixture
def screenshots_dir(tmp_path: Path) -> Path:
    """docs/screenshots when REGNOTIFY_UPDATE_SCREENSHOTS=1 (``docs/screenshots/make.py``), else tmp."""
    if os.environ.get("REGNOTIFY_UPDATE_SCREENSHOTS") == "1":
        return Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    return tmp_path
