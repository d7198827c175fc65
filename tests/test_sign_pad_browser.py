"""The signature pad in a real browser: Debian's headless Chromium against ``sealctl serve``.

The platform creates a request over HTTP; the person opens ``sign_url`` on a phone-sized
screen, draws with W3C pointer actions — a finger (touch), a pen and a mouse — and
confirms.  The signed PDF that comes back must verify, and its page, rendered by poppler,
must show the drawn strokes where the signature was placed.  A blank pad is refused (in
the page, and by the server when the page's check is bypassed); an expired request shows
its own page.  Screenshots: ``docs/sign-pad.png`` (the pad, drawn on) and
``docs/signed-with-pad.png`` (the signed page); for an OFD ``docs/sign-pad-ofd.png`` and
``docs/signed-ofd-with-pad.png``.
"""

from __future__ import annotations

import io
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from helpers.browser import DOCS, PHONE, screenshot
from helpers.idp_fixtures import AUDIENCE, ID_NUMBER, TestProvider
from helpers.licence_ofd_render import template_licence_ofd
from helpers.pdf_fixtures import chinese_pdf
from PIL import Image, ImageChops
from sqlalchemy import update

from sealsvc.config import Settings
from sealsvc.context import ServiceContext
from sealsvc.models import SigningRequest, utcnow
from sealsvc.verification.ofd import render_face

if TYPE_CHECKING:
    from helpers.server import ServerProcess
    from selenium.webdriver.remote.webdriver import WebDriver

pytest_plugins = ("helpers.api_fixtures", "helpers.browser")  # live_server, browser

pytestmark = pytest.mark.slow

ISSUER = "https://pad-browser.id.test.zhengzhou.example"
CENTRE_MM, SIZE_MM = (75.0, 40.0), 44.0
"""Where the signature goes: in the empty space under the text, left of the footer."""
DPI = 100


@pytest.fixture(scope="module")
def provider(live_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> TestProvider:
    provider = TestProvider(tmp_path_factory.mktemp("idp"), issuer=ISSUER)
    added = live_server.sealctl(
        "idp", "add", "pad-browser", "--issuer", ISSUER,
        "--jwks", str(provider.jwks_file), "--audience", AUDIENCE,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    return provider


def _request(live_server: ServerProcess, provider: TestProvider, document: bytes) -> dict:
    with live_server.client() as client:
        response = client.post(
            "/v1/signatures/requests",
            files={"file": ("form.pdf", document, "application/pdf")},
            data={
                "id_token": provider.token(sub="u-pad"),
                "role": "申请人",
                "x_mm": str(CENTRE_MM[0]),
                "y_mm": str(CENTRE_MM[1]),
                "size_mm": str(SIZE_MM),
            },
        )
    assert response.status_code == 201, response.text
    return response.json()


def _stroke(driver: WebDriver, kind: str, points: list[tuple[int, int]]) -> None:
    """One stroke as W3C pointer input of ``kind`` (touch, pen, mouse), offsets from the
    canvas's centre."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.ID, "pad")
    pointer = PointerInput(getattr(interaction, f"POINTER_{kind.upper()}"), kind)
    actions = ActionBuilder(driver, mouse=pointer, duration=40)
    pressure = 0.6 if kind == "pen" else None  # a pen reports pressure; the pad uses it
    (x, y), rest = points[0], points[1:]
    actions.pointer_action.move_to(canvas, x, y).pointer_down(pressure=pressure)
    for x, y in rest:
        actions.pointer_action.move_to(canvas, x, y, pressure=pressure)
    actions.pointer_action.pointer_up()
    actions.perform()


def _sign_here(driver: WebDriver) -> None:
    """A signature-like scribble: a finger, a pen and a mouse each draw one stroke."""
    _stroke(driver, "touch", [(-140, 10), (-110, -40), (-80, 30), (-50, -35), (-20, 25)])
    _stroke(driver, "pen", [(0, -30), (20, 35), (45, -25), (70, 30)])
    _stroke(driver, "mouse", [(-150, 50), (-40, 55), (60, 50), (150, 45)])


def _render(pdf: bytes, directory: Path, name: str) -> Image.Image:
    path = directory / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-f", "1", "-l", "1", "-r", str(DPI), "-png", "-singlefile", path,
         directory / name],
        check=True, timeout=60,
    )  # fmt: skip
    return Image.open(directory / f"{name}.png").convert("RGB")


def _box_px(page_height: int) -> tuple[int, int, int, int]:
    """The appearance box (left, top, right, bottom) in pixels of the rendered page."""
    px = DPI / 25.4
    (x, y), half = CENTRE_MM, SIZE_MM / 2
    return (
        round((x - half) * px),
        round(page_height - (y + half) * px),
        round((x + half) * px),
        round(page_height - (y - half) * px),
    )


def test_a_person_draws_confirms_and_the_signed_page_shows_the_strokes(
    browser: WebDriver,
    live_server: ServerProcess,
    provider: TestProvider,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    document = chinese_pdf()
    request = _request(live_server, provider, document)
    browser.get(request["sign_url"])
    assert "请您签名" in browser.title
    WebDriverWait(browser, 60).until(
        lambda d: d.execute_script("const i = document.getElementById('preview');"
                                   "return i.complete && i.naturalWidth > 0")
    )  # fmt: skip
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "张*丰" in body and "申请人" in body and ID_NUMBER not in browser.page_source

    # Confirm on an empty pad: the page says so and stays.
    browser.find_element(By.ID, "confirm").click()
    error = browser.find_element(By.ID, "error")
    assert error.is_displayed() and "签名为空" in error.text
    # The same with the page's check bypassed: the server refuses the transparent canvas.
    browser.execute_script(
        "document.getElementById('signature').value = document.getElementById('pad')"
        ".toDataURL('image/png'); HTMLFormElement.prototype.submit.call("
        "document.getElementById('sign-form'));"
    )
    refused = WebDriverWait(browser, 60).until(
        expected_conditions.visibility_of_element_located((By.ID, "error"))
    )
    assert "签名为空" in refused.text and browser.find_elements(By.ID, "pad")

    _sign_here(browser)
    assert not browser.find_element(By.ID, "error").is_displayed()  # drawing hid it
    ink = browser.execute_script(
        "const c = document.getElementById('pad');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 128) n++; return n;"
    )
    assert ink > 500, ink  # all three pointers drew
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(browser, "sign-pad.png")
    browser.find_element(By.ID, "confirm").click()
    verdict = WebDriverWait(browser, 120).until(
        expected_conditions.presence_of_element_located((By.ID, "verdict"))
    )
    assert "签名完成" in verdict.text

    with live_server.client() as client:
        status = client.get(f"/v1/signatures/requests/{request['request_id']}").json()
        assert status["status"] == "signed", status
        signed = client.get(status["document_url"]).content
        report = client.post(
            "/v1/verify", files={"file": ("signed.pdf", signed, "application/pdf")}
        ).json()
    assert report["verdict"] == "TOTAL_PASSED", report
    (signature,) = report["signatures"]
    person = signature["person"]
    assert (person["name"], person["role"], person["certificate"]) == ("张*丰", "申请人", "event")
    assert ID_NUMBER not in str(report)

    before = _render(document, tmp_path, "before")
    after = _render(signed, tmp_path, "after")
    left, top, right, bottom = _box_px(after.height)
    handwriting = (left, top, right, top + round((bottom - top) * 0.7))  # above name and time
    changed = ImageChops.difference(before, after).convert("L").point(lambda v: 255 * (v > 80))
    strokes = changed.crop(handwriting).histogram()[255]
    assert strokes > 300, strokes  # the drawn strokes are on the page, where they were placed
    assert changed.getbbox() is not None
    outside = changed.copy()
    outside.paste(0, (left, top, right, bottom))
    assert outside.getbbox() is None  # and nowhere else
    after.save(DOCS / "signed-with-pad.png")
    assert ID_NUMBER not in live_server.log.read_text(encoding="utf-8", errors="replace")


def test_an_expired_request_shows_its_own_page(
    browser: WebDriver,
    live_server: ServerProcess,
    provider: TestProvider,
) -> None:
    from selenium.webdriver.common.by import By

    request = _request(live_server, provider, chinese_pdf())
    context = ServiceContext(Settings.load(live_server.data_dir, live_server.environ))
    try:
        with context.database.session() as session:
            session.execute(
                update(SigningRequest)
                .where(SigningRequest.id == request["request_id"])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
    finally:
        context.close()
    browser.get(request["sign_url"])
    verdict = browser.find_element(By.ID, "verdict").text
    assert "签名链接已失效" in verdict and "已过期" in verdict
    assert httpx.get(request["sign_url"]).status_code == 410
    assert not browser.find_elements(By.ID, "pad")


def test_a_person_signs_an_ofd_on_the_pad_in_chromium(
    browser: WebDriver,
    live_server: ServerProcess,
    provider: TestProvider,
) -> None:
    """The pad shows an OFD licence's first page (our OFD renderer); the drawing becomes
    the time-stamped ``Type="Sign"``'s appearance, drawn in its StampAnnot box only."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    document, _ = template_licence_ofd("business_licence")
    centre, size = (180.0, 67.5), 30.0  # an empty spot of the licence
    with live_server.client() as client:
        created = client.post(
            "/v1/signatures/requests",
            files={"file": ("licence.ofd", document, "application/ofd")},
            data={"id_token": provider.token(sub="u-pad-ofd"), "role": "申请人",
                  "x_mm": str(centre[0]), "y_mm": str(centre[1]), "size_mm": str(size)},
        )  # fmt: skip
    assert created.status_code == 201, created.text
    request = created.json()
    browser.get(request["sign_url"])
    WebDriverWait(browser, 60).until(
        lambda d: d.execute_script("const i = document.getElementById('preview');"
                                   "return i.complete && i.naturalWidth > 0")
    )  # fmt: skip
    _sign_here(browser)
    screenshot(browser, "sign-pad-ofd.png")
    browser.find_element(By.ID, "confirm").click()
    verdict = WebDriverWait(browser, 120).until(
        expected_conditions.presence_of_element_located((By.ID, "verdict"))
    )
    assert "签名完成" in verdict.text
    with live_server.client() as client:
        status = client.get(f"/v1/signatures/requests/{request['request_id']}").json()
        signed = client.get(status["document_url"]).content
        report = client.post(
            "/v1/verify", files={"file": ("signed.ofd", signed, "application/ofd")}
        ).json()
    assert report["verdict"] == "TOTAL_PASSED", report
    (signature,) = report["signatures"]
    assert signature["person"]["certificate"] == "event" and signature["timestamp"]["valid"]

    before, after = (
        Image.open(io.BytesIO(render_face(d, dpi=DPI))).convert("RGB") for d in (document, signed)
    )
    px = DPI / 25.4
    left, top = round((centre[0] - size / 2) * px), round((210 - centre[1] - size / 2) * px)
    box = (left, top, left + round(size * px), top + round(size * px))
    changed = ImageChops.difference(before, after).convert("L").point(lambda v: 255 * (v > 80))
    assert changed.crop(box).histogram()[255] > 300  # the strokes, name and time
    outside = changed.copy()
    outside.paste(0, box)
    assert outside.getbbox() is None  # and nothing else on the page changed
    after.save(DOCS / "signed-ofd-with-pad.png")
