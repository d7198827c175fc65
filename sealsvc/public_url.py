"""One public base URL for everything the service writes or returns.

CRL, OCSP and CA-issuers URLs in certificates, the QR code and ``verify_url`` of a
licence, ``download_url`` and ``image_url`` all start with ``Settings.base_url``.  A
certificate keeps its URLs for years, so the value is decided once, when the CAs are
created, and recorded in ``<data dir>/base-url`` (:func:`record`); later starts and every
``sealctl`` command read it back (:class:`~sealsvc.config.Settings`).

On the first start of ``sealctl serve`` (no CAs yet, no ``SEALSVC_BASE_URL``) the base URL
is the address being served (:func:`for_serving`), so ``serve --port 18080`` issues
certificates and QR codes that point at port 18080.  A later start on another address
keeps the recorded URL and says so (:func:`mismatch_warning`): the certificates already
carry it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from urllib.parse import urlsplit

from pki.fsutil import atomic_write
from sealsvc.config import BASE_URL_FILE, Settings

__all__ = ["for_serving", "listening_url", "mismatch_warning", "record"]


def listening_url(host: str, port: int) -> tuple[str, str | None]:
    """The URL of ``host:port`` as a client on this machine reaches it, and a note.

    A wildcard address (``0.0.0.0``, ``::``) accepts connections but names no host a
    client could use; it becomes the loopback address, and the note says to set
    ``SEALSVC_BASE_URL`` to the address others use.
    """
    note = None
    name = host.strip("[]")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return f"http://{name}:{port}", None
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
        note = (
            f"listening on all interfaces ({host}); the base URL defaults to this machine's "
            f"loopback address — set SEALSVC_BASE_URL to the address clients use"
        )
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{shown}:{port}", note


def for_serving(settings: Settings, listening: str, *, first_start: bool) -> Settings:
    """``settings`` with the base URL ``serve`` uses: on a first start without
    ``SEALSVC_BASE_URL`` (or a recorded one), the address being served."""
    if first_start and settings.base_url_source == "default":
        return dataclasses.replace(
            settings, base_url=listening, base_url_source="the address served, first start"
        )
    return settings


def record(settings: Settings) -> None:
    """Record ``settings.base_url`` as the URL the CAs just created carry."""
    atomic_write(settings.data_dir / BASE_URL_FILE, f"{settings.base_url}\n".encode())


def mismatch_warning(settings: Settings, listening: str) -> str | None:
    """A warning when the base URL points elsewhere than ``listening``, with the fix.

    Not when ``SEALSVC_BASE_URL`` sets it on purpose (a reverse proxy in front), unless
    it contradicts the URL recorded for the certificates already issued.
    """
    recorded_path = settings.data_dir / BASE_URL_FILE
    if settings.base_url_source == "SEALSVC_BASE_URL":
        try:
            recorded = recorded_path.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        if recorded == settings.base_url:
            return None
        return (
            f"SEALSVC_BASE_URL is {settings.base_url}, but the certificates issued so far "
            f"carry {recorded} (recorded in {recorded_path}) in their CRL, OCSP and "
            f"CA-issuers URLs, and older QR codes point there. New certificates and links "
            f"use {settings.base_url}; keep {recorded} answering for the old ones."
        )
    if settings.base_url == listening:
        return None
    options = _serve_options(settings.base_url, listening)
    return (
        f"the base URL is {settings.base_url} (from {settings.base_url_source}), but this "
        f"server listens on {listening}. Certificates already carry {settings.base_url} in "
        f"their CRL, OCSP and CA-issuers URLs, and QR codes, verify_url and download_url "
        f"point there. Fine if a reverse proxy publishes this server at that URL; "
        f"otherwise start the server on the address in that URL ({options}), or set "
        f"SEALSVC_BASE_URL to the URL clients reach this server at (certificates issued "
        f"so far keep the old one)."
    )


def _serve_options(base_url: str, listening: str) -> str:
    """``--port P`` when only the port differs, else the generic ``--host/--port``."""
    base, served = urlsplit(base_url), urlsplit(listening)
    if base.scheme == "http" and base.hostname == served.hostname and not base.path:
        return f"--port {base.port or 80}"
    return "--host/--port"
