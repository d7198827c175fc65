"""The citizen page in a real browser: Debian's headless Chromium against ``sealctl serve``.

A licence is issued over HTTP, then uploaded through ``/verify`` the way a citizen does on
a phone (412×915 CSS pixels, mobile emulation): the verdict must read 验证通过, a tampered
copy 验证失败, a cancelled (注销) licence a red 证照已注销 whatever its seals say, and the
QR code's URL must open the registry record.  Screenshots of the four pages are written
to ``docs/verify-page-*.png``.

Needs ``chromium`` and ``chromium-driver`` (Debian packages).  Without them the test is
skipped — except in CI (``CI=true``), where it fails.  Selenium is pointed at the Debian
driver and browser, so selenium-manager never downloads anything.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from helpers.browser import (
    PHONE,
    screenshot,
    wait_for_images,
)
from helpers.licence_api import MARKET, TEMPLATES
from helpers.verify_corpus import append_page_content_update

if TYPE_CHECKING:
    from helpers.server import ServerProcess
    from selenium.webdriver.remote.webdriver import WebDriver

pytest_plugins = ("helpers.api_fixtures", "helpers.browser")  # live_server, browser

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def licence(live_server: ServerProcess) -> tuple[dict, bytes]:
    with live_server.client() as client:
        return _issue_business_licence(live_server, client, "sm2")


def _issue_business_licence(
    live_server: ServerProcess, client, algorithm: str
) -> tuple[dict, bytes]:
    """The example 营业执照 sealed with the market regulator's demo seal: record and PDF."""
    data = json.loads((TEMPLATES / "business_licence" / "example.json").read_text("utf-8"))
    response = client.post(
        "/v1/licences",
        json={
            "template": "business_licence",
            "data": data,
            "seals": [live_server.demo_seal(MARKET, algorithm).code],
        },
    )
    assert response.status_code == 201, response.text
    record = response.json()
    return record, client.get(record["download_url"]).content


def _upload(driver: WebDriver, server: ServerProcess, pdf: bytes, directory: Path) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    path = directory / "licence.pdf"
    path.write_bytes(pdf)
    driver.get(f"{server.url}/verify")
    assert "验证电子文件" in driver.title
    driver.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(path))
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    verdict = WebDriverWait(driver, 120).until(
        expected_conditions.presence_of_element_located((By.ID, "verdict"))
    )
    wait_for_images(driver)
    return verdict.text


def test_citizen_verifies_a_licence_in_a_browser(
    browser: WebDriver, live_server: ServerProcess, licence: tuple[dict, bytes], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    record, pdf = licence
    verdict = _upload(browser, live_server, pdf, tmp_path)
    assert "验证通过" in verdict
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "与登记的文件一致" in body and record["number"] in body and "有效" in body
    (image,) = browser.find_elements(By.CSS_SELECTOR, ".seal img")
    assert image.get_attribute("naturalWidth") not in (None, "0")
    # The page fits the phone: nothing wider than the viewport.
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(browser, "verify-page-pass.png")

    verdict = _upload(browser, live_server, append_page_content_update(pdf), tmp_path)
    assert "验证失败" in verdict
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "与登记的文件不一致" in body and "盖章后已被篡改" in body
    screenshot(browser, "verify-page-fail.png")


def test_qr_code_url_opens_the_registry_record(
    browser: WebDriver, live_server: ServerProcess, licence: tuple[dict, bytes]
) -> None:
    from selenium.webdriver.common.by import By

    record, _ = licence
    assert record["verify_url"].startswith(live_server.url)  # SEALSVC_BASE_URL of the server
    browser.get(record["verify_url"])
    verdict = browser.find_element(By.ID, "verdict").text
    assert "证照有效" in verdict
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "与登记信息一致" in body and record["number"] in body and "营业执照" in body
    # Enough to match the paper: holder, masked credit code, printed and e-issue dates.
    assert "郑州中原智链信息科技有限公司" in body and "914101********K2XR" in body
    assert "2024年03月15日" in body and "电子签发日期" in body
    hidden = browser.find_element(By.CSS_SELECTOR, "input[name=licence_no]")
    assert hidden.get_attribute("value") == record["number"]
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(browser, "verify-page-qr.png")
    assert httpx.get(record["verify_url"]).headers["content-security-policy"]


def test_an_annulled_licence_is_not_green_in_a_browser(
    browser: WebDriver, live_server: ServerProcess, tmp_path: Path
) -> None:
    """Valid seals on a cancelled (注销) licence: the headline a citizen reads is red."""
    from selenium.webdriver.common.by import By

    with live_server.client() as client:
        record, pdf = _issue_business_licence(live_server, client, "rsa")
        annulled = client.post(
            f"/v1/licences/{record['number']}/annul",
            json={"kind": "cancelled", "reason": "企业申请注销登记"},
        )
        assert annulled.status_code == 200, annulled.text
    changed = datetime.fromisoformat(annulled.json()["status_changed_at"])
    day = changed.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d")

    headline = _upload(browser, live_server, pdf, tmp_path)
    assert "证照已注销" in headline and "验证通过" not in headline
    assert f"印章有效，但该证照已于 {day} 被注销，不再有效。" in headline
    verdict = browser.find_element(By.ID, "verdict")
    assert "bad" in verdict.get_attribute("class").split()
    # What the eye sees: the headline's colour is the red of a failure, not the green.
    colour = browser.execute_script(
        "return getComputedStyle(document.querySelector('#verdict .title')).color"
    )
    assert colour == "rgb(192, 40, 27)", colour  # --bad: #c0281b
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "已注销" in body and "企业申请注销登记" in body and "已吊销" not in body
    screenshot(browser, "verify-page-annulled.png")

    browser.get(record["verify_url"])  # the QR page says the same
    qr_headline = browser.find_element(By.ID, "verdict").text
    assert "证照已注销" in qr_headline and f"已于 {day} 被注销，不再有效" in qr_headline
