"""``/docs`` works with no internet: Swagger UI comes from the service, not from a CDN.

In-process, every URL the page references must be same-origin and answer 200 with the
right type; in Debian's headless Chromium against ``sealctl serve`` (the ``browser``
fixture of ``test_browser``), the page must render the operations.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import pytest

if TYPE_CHECKING:
    from helpers.api_fixtures import ApiWorld
    from helpers.server import ServerProcess
    from selenium.webdriver.remote.webdriver import WebDriver

pytest_plugins = ("helpers.api_fixtures", "helpers.browser")  # api_world, live_server, browser

_REFERENCE = re.compile(r"""(?:src|href)="([^"]+)"|url:\s*'([^']+)'""")


def _references(html: str) -> list[str]:
    return [a or b for a, b in _REFERENCE.findall(html)]


def test_docs_reference_only_same_origin_urls_that_answer(api_world: ApiWorld) -> None:
    client = api_world.client
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    references = _references(page.text)
    assert any(r.endswith("swagger-ui-bundle.js") for r in references), references
    assert any(r.endswith(".css") for r in references) and "/openapi.json" in references
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    types = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}
    for reference in references:
        url = urlsplit(urljoin("http://testserver/docs", reference))
        assert url.netloc == "testserver", reference  # same origin
        answer = client.get(url.path)
        assert answer.status_code == 200, reference
        expected = next(t for suffix, t in types.items() if url.path.endswith(suffix))
        assert expected in answer.headers["content-type"], (reference, answer.headers)
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN


@pytest.mark.slow
def test_docs_render_in_a_browser_without_internet(
    browser: WebDriver,
    live_server: ServerProcess,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{live_server.url}/docs")
    WebDriverWait(browser, 60).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    )
    paths = {
        element.get_attribute("data-path")
        for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    }
    assert "/v1/seals/{code}/sign" in paths and "/v1/verify" in paths, paths
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert loaded and all(url.startswith(live_server.url) for url in loaded), loaded
