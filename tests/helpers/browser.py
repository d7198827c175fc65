"""Debian's headless Chromium for browser tests, as a citizen's phone shows our pages.

A pytest plugin: ``pytest_plugins = ("helpers.browser",)`` gives a module the ``browser``
fixture (412×915 CSS pixels, mobile emulation, zh-CN, no network for selenium-manager).
Needs ``chromium`` and ``chromium-driver`` (Debian packages); without them the tests skip,
except in CI (``CI=true``), where the skip is a failure (tests/helpers/crosschecks.py).
Screenshots go to ``docs/``, where the README shows them."""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


CHROMIUM = Path("/usr/bin/chromium")


CHROMEDRIVER = Path("/usr/bin/chromedriver")


DOCS = Path(__file__).resolve().parents[2] / "docs"


PHONE = {"width": 412, "height": 915, "pixelRatio": 1.5}


def _require_browser() -> None:
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    # A failure in CI (tests/helpers/crosschecks.py), a skip elsewhere.
    pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Headless Chromium emulating a phone, one per module (starting it takes seconds)."""
    _require_browser()
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager, should anything call it: no network
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--lang=zh-CN",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: WebDriver, name: str) -> None:
    """The whole page (not just the viewport), as the phone renders it."""
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    (DOCS / name).write_bytes(base64.b64decode(shot["data"]))


def wait_for_images(driver: WebDriver) -> None:
    """Until every image of the page is loaded: a screenshot before that shows holes."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script(
            "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
        )
    )
