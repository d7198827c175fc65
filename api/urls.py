"""Absolute URLs in answers, built from the service's one public base URL.

``request.url_for`` would use the ``Host`` the client sent, which differs from the URL
written into certificates and QR codes whenever the server is reached another way (a
port, a proxy, a forged header).  Every link the API returns uses
``Settings.base_url`` instead (see :mod:`sealsvc.public_url`).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request

from api.state import service_context

__all__ = ["public_url"]


def public_url(request: Request, route_name: str, **path_params: str) -> str:
    """``{base_url}{path of route_name}`` for this application, percent-encoded."""
    base = service_context(request).settings.base_url
    return base + quote(str(request.app.url_path_for(route_name, **path_params)), safe="/")
