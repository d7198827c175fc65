"""The citizens' page with an OFD licence, in Debian's headless Chromium against ``sealctl serve``.

A business licence is issued over HTTP as OFD (``"format": "ofd"``), sealed by the server
with its demo SM2 seal of the market regulator, downloaded from ``GET /v1/licences/{no}/ofd``
and uploaded through ``/verify`` on a phone-sized screen.  The page must give the same
verdict a PDF gets, name the licence, find it equal to the registered file and show its
face — page 1 rendered by :mod:`ofd.raster` with the stamp — and a tampered copy must read
验证失败.  The _screenshot is kept as ``docs/verify-page-ofd.png``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers.browser import PHONE
from helpers.browser import screenshot as _screenshot
from helpers.browser import wait_for_images as _wait_for_images
from helpers.licence_api import MARKET, TEMPLATES
from helpers.ofd_verify_fixtures import one_byte_changed

from ofd.package import OfdPackage

if TYPE_CHECKING:
    from helpers.server import ServerProcess
    from selenium.webdriver.remote.webdriver import WebDriver

pytest_plugins = ("helpers.api_fixtures", "helpers.browser")  # live_server, browser

pytestmark = pytest.mark.slow


def _upload(driver: WebDriver, server: ServerProcess, data: bytes, path: Path) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    path.write_bytes(data)
    driver.get(f"{server.url}/verify")
    driver.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(path))
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    verdict = WebDriverWait(driver, 120).until(
        expected_conditions.presence_of_element_located((By.ID, "verdict"))
    )
    _wait_for_images(driver)
    return verdict.text


def test_citizen_verifies_an_ofd_licence_and_sees_its_face(
    browser: WebDriver,
    live_server: ServerProcess,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    data = json.loads((TEMPLATES / "business_licence" / "example.json").read_text("utf-8"))
    with live_server.client() as client:
        response = client.post(
            "/v1/licences",
            json={
                "template": "business_licence",
                "data": data,
                "seals": [live_server.demo_seal(MARKET, "sm2").code],
                "format": "ofd",
            },
        )
        assert response.status_code == 201, response.text
        record = response.json()
        downloaded = client.get(f"/v1/licences/{record['number']}/ofd")
        assert downloaded.headers["content-type"] == "application/ofd"
        sealed = downloaded.content

    verdict = _upload(browser, live_server, sealed, tmp_path / "licence.ofd")
    assert "验证通过" in verdict, verdict
    body = browser.find_element(By.TAG_NAME, "body").text
    assert record["number"] in body and "营业执照" in body and "文件首页" in body
    assert "盖章后未被篡改" in body and "与登记的文件一致" in body
    (face,) = browser.find_elements(By.CSS_SELECTOR, "img.face")
    assert int(face.get_attribute("naturalWidth")) > 600
    assert face.get_attribute("src").startswith("data:image/png;base64,")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE["width"]
    _screenshot(browser, "verify-page-ofd.png")

    tampered = one_byte_changed(OfdPackage.read(sealed), "Doc_0/Pages/Page_0/Content.xml")
    verdict = _upload(browser, live_server, tampered.to_bytes(), tmp_path / "tampered.ofd")
    assert "验证失败" in verdict
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "盖章后已被篡改" in body
