"""An enterprise seal set as the API answers it (``POST /v1/licences`` with
``enterprise_seals``, ``/v1/enterprises/…``)."""

from __future__ import annotations

from typing import Any

from asn1crypto import pem
from fastapi import Request

from api.state import service_context
from api.urls import public_url
from sealsvc import seals
from sealsvc.enterprise.issuance import SealSet

__all__ = ["seal_set_body"]


def seal_set_body(request: Request, seal_set: SealSet) -> dict[str, Any]:
    """The set as JSON: per seal its certificate (PEM) and the URLs of its image and
    GB/T 38540 seal object."""
    body = seal_set.as_dict()
    context = service_context(request)
    with context.database.session(read_only=True) as session:
        for entry in body["seals"]:
            certificate = seals.get(session, entry["code"]).current_certificate
            if certificate is None:  # a committed seal always has one: a fault of ours
                raise RuntimeError(f"seal {entry['code']} has no current certificate")
            entry["certificate_pem"] = pem.armor("CERTIFICATE", certificate.der).decode("ascii")
            entry["image_url"] = public_url(request, "seal_image", code=entry["code"])
            entry["esl_url"] = public_url(request, "seal_esl", code=entry["code"])
    return body
