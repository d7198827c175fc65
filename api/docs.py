"""``/docs``: Swagger UI served from the service itself, so it works with no internet.

FastAPI's default page loads Swagger UI's script and CSS from a CDN, which a government
intranet (or a laptop on a train) cannot reach: the page stayed blank.  The assets come
from the ``swagger-ui-bundle-v2`` package (Swagger UI's own dist files, Apache-2.0) and
are served under ``/docs/swagger-ui/``; the page references nothing else.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

__all__ = ["ASSETS", "install_docs"]

ASSETS = "/docs/swagger-ui"
"""Where Swagger UI's files are served."""


def install_docs(app: FastAPI, *, docs_url: str = "/docs") -> None:
    """Serve Swagger UI at ``docs_url`` for ``app.openapi_url`` with same-origin assets.

    Build the app with ``docs_url=None`` (and ``redoc_url=None``: ReDoc would load from a
    CDN too) and call this instead.
    """
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
