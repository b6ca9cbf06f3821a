"""A real headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven through
Selenium, for tests that look at a page the way a person's browser shows it.

Selenium is given the system chromedriver and browser explicitly, and Selenium Manager is
told to stay offline: nothing is downloaded, and the browser starts with its background
networking, component updates and sync off, in a fresh profile, so the only thing it can load is
the page the test opens.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> tuple[str, str]:
    """Paths of the browser and its driver; skips without them, except in CI."""
    browser = _find("chromium", "chromium-browser")
    driver = _find("chromedriver")
    missing = [n for n, p in (("chromium", browser), ("chromium-driver", driver)) if not p]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        message = f"needs {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    assert browser and driver
    return browser, driver


@contextmanager
def chromium(width: int = 1200, height: int = 900) -> Iterator[Any]:
    """A Selenium WebDriver on a headless Chromium with a fresh profile."""
    browser, driver_path = require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager: never download a driver or browser
    profile = tempfile.mkdtemp(prefix="newsbot-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def full_page_screenshot(driver: Any, path: str, width: int = 1200) -> None:
    """A screenshot of the whole page (the window resized to the document's height)."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(width, min(max(height + 120, 600), 16000))
    driver.save_screenshot(path)
