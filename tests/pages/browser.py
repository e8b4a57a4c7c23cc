"""Debian's Chromium driven by Python Playwright (never a downloaded browser), with every
page's console errors collected and screenshots kept under tests/artifacts/pages/. No tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "pages"
WIDTHS = {"desktop": 1280, "phone": 390}

# CI runs the suite on a busy machine: live updates get twice Playwright's default to show up
expect.set_options(timeout=10_000)


def require_chromium() -> None:
    """Skip (with the way to fix it) when Chromium is not installed here; CI installs it
    (.ci/run), so there a missing browser fails instead."""
    if CHROMIUM.exists():
        return
    message = (
        f"{CHROMIUM} is missing: `apt-get install -y chromium` (Debian) installs it; "
        ".ci/run does so before `make test`"
    )
    if os.environ.get("REQUIRE_CHROMIUM") or os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    require_chromium()
    # never a browser download, whatever the environment says
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        try:
            yield browser
        finally:
            await browser.close()


class Tab:
    """A page of its own browser context, with the console errors it logged."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console_errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.console_errors.append(f"pageerror: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    async def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    async def fits_its_width(self) -> None:
        """Nothing wider than the viewport (no sideways scrolling of the page itself)."""
        overflow = await self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page is {overflow} px wider than its viewport"


@contextlib.asynccontextmanager
async def tab(browser: Browser, width: str = "desktop") -> AsyncIterator[Tab]:
    context = await browser.new_context(
        viewport={"width": WIDTHS[width], "height": 900}, device_scale_factor=1
    )
    try:
        yield Tab(await context.new_page())
    finally:
        await context.close()
