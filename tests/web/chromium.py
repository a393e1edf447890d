"""Headless Chromium for the page's end-to-end tests: Playwright driving the system's
/usr/bin/chromium (no browser download), its flags, the window sizes, and screenshots.

`require()` at the top of a test module skips it where Playwright or Chromium is missing
(with CI=true, tests/conftest.py turns that skip into a failure).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# testbed NOTES §6: no sandbox as root, no GPU, nothing fetched from the network by Chromium itself
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 420, "height": 800}


def require():
    """playwright.sync_api, or a skip of the calling module."""
    module = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)")
    if not os.path.exists(CHROMIUM):
        pytest.skip("no chromium (Debian: apt-get install chromium)", allow_module_level=True)
    return module


def snap(page, shots: Path, name: str, *, narrow: bool = False) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    if narrow:
        page.set_viewport_size(NARROW)
        page.screenshot(path=str(shots / f"{name}-narrow.png"), full_page=True)
        page.set_viewport_size(WIDE)


def watched_page(browser, *, ignore: tuple[str, ...] = (), **options):
    """A new wide page, and the list its script errors and console errors land in (those
    naming any of `ignore` left out): a test asserts the list stays empty."""
    page = browser.new_page(viewport=WIDE, **options)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and not any(word in msg.text for word in ignore)
            and errors.append(msg.text))
    return page, errors
