"""Calls to the in-process API and checks of its answers, shared by the API test modules.

Every refusal the API makes is RFC 9457 problem+json; :func:`assert_problem` states what
each one must hold, so a module checking a refusal checks all of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.problems import PROBLEM_JSON
from helpers.pdf_fixtures import chinese_pdf

if TYPE_CHECKING:
    from helpers.api_fixtures import ApiWorld


ZZ_D26 = "ZZ-D26"  # 郑州市市场监督管理局, the bootstrap's department with demo seals


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header of an API key, as every client sends it."""
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response, status: int) -> dict:
    """The body of a refusal, after checking it is problem+json with no traceback in it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://") and body["title"]
    assert "Traceback" not in response.text
    return body


def sign(world: ApiWorld, code: str, token: str, pdf: bytes | None = None, **kwargs):
    """POST the PDF as a raw application/pdf body."""
    return world.client.post(
        f"/v1/seals/{code}/sign",
        content=chinese_pdf(1) if pdf is None else pdf,
        headers={**bearer(token), "Content-Type": "application/pdf"},
        **kwargs,
    )
