"""PKI endpoints at the URLs written into certificates: CA certificates, CRLs, OCSP, TSA.

Public (no API key): relying parties and ``openssl`` fetch them.  Media types follow
RFC 2585 (``application/pkix-cert``, ``application/pkix-crl``), RFC 6960
(``application/ocsp-request`` / ``-response``) and RFC 3161 (``application/timestamp-query``
/ ``-reply``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from api.bodies import read_body
from api.problems import problem_responses
from api.state import service_context, trust_services
from pki.certificates import Profile

__all__ = ["router"]

router = APIRouter(prefix="/pki", tags=["pki"], responses=problem_responses(400, 404, 422))
Hierarchy = Literal["rsa", "sm2"]
_MAX_PROTOCOL_BODY = 64 * 1024
_CERT_PROFILES = {
    "root": Profile.ROOT_CA,
    "issuing": Profile.ISSUING_CA,
    "tsa": Profile.TSA,
    "ocsp": Profile.OCSP,
    "person": Profile.PERSON_CA,
}
_CRL_ISSUERS = {"root": Profile.ROOT_CA, "issuing": Profile.ISSUING_CA, "person": Profile.PERSON_CA}


def _binary(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """An OpenAPI response entry for a DER body of ``media_type``."""
    schema = {"type": "string", "format": "binary"}
    return {200: {"content": {media_type: {"schema": schema}}, "description": description}}


def _binary_body(media_type: str) -> dict[str, Any]:
    """``openapi_extra`` for a route whose DER request body is read raw (not by FastAPI)."""
    content = {media_type: {"schema": {"type": "string", "format": "binary"}}}
    return {"requestBody": {"required": True, "content": content}}


def _certificate_der(request: Request, hierarchy: str, name: str) -> bytes:
    context = service_context(request)
    with context.database.session(read_only=True) as session:
        return context.ca.current(session, hierarchy, _CERT_PROFILES[name]).der


@router.get(
    "/{hierarchy}/{name}.crt",
    response_class=Response,
    summary="CA, TSA or OCSP certificate",
    responses=_binary("application/pkix-cert", "The certificate (DER)."),
)
async def ca_certificate(
    request: Request,
    hierarchy: Hierarchy,
    name: Literal["root", "issuing", "tsa", "ocsp", "person"],
) -> Response:
    """A CA, TSA or OCSP-signer certificate (DER); ``person`` is the personal-signing CA."""
    der = await run_in_threadpool(_certificate_der, request, hierarchy, name)
    return Response(der, media_type="application/pkix-cert")


@router.get(
    "/{hierarchy}/{name}.crl",
    response_class=Response,
    summary="Newest CRL",
    responses=_binary("application/pkix-crl", "The CRL (DER)."),
)
async def crl(
    request: Request, hierarchy: Hierarchy, name: Literal["root", "issuing", "person"]
) -> Response:
    """The newest CRL of the root, issuing or personal-signing CA (DER)."""
    profile = _CRL_ISSUERS[name]
    trust = trust_services(request)
    der = await run_in_threadpool(trust.latest_crl_der, hierarchy, profile)
    return Response(der, media_type="application/pkix-crl")


def _ocsp_answer(request: Request, hierarchy: str, request_der: bytes) -> Response:
    responder = trust_services(request).ocsp(hierarchy)
    return Response(responder.respond(request_der), media_type="application/ocsp-response")


def _person_ocsp_answer(request: Request, hierarchy: str, request_der: bytes) -> Response:
    responder = trust_services(request).person_ocsp(hierarchy)
    return Response(responder.respond(request_der), media_type="application/ocsp-response")


@router.post(
    "/{hierarchy}/person-ocsp",
    response_class=Response,
    summary="OCSP for persons' certificates (POST)",
    openapi_extra=_binary_body("application/ocsp-request"),
    responses={
        **_binary("application/ocsp-response", "The OCSP response (DER)."),
        **problem_responses(413),
    },
)
async def person_ocsp_post(request: Request, hierarchy: Hierarchy) -> Response:
    """OCSP over POST for certificates of the personal-signing CA, signed by that CA."""
    body = await read_body(request, _MAX_PROTOCOL_BODY)
    return await run_in_threadpool(_person_ocsp_answer, request, hierarchy, body)


@router.post(
    "/{hierarchy}/ocsp",
    response_class=Response,
    summary="OCSP (POST)",
    openapi_extra=_binary_body("application/ocsp-request"),
    responses={
        **_binary("application/ocsp-response", "The OCSP response (DER)."),
        **problem_responses(413),
    },
)
async def ocsp_post(request: Request, hierarchy: Hierarchy) -> Response:
    """OCSP over POST (RFC 6960 A.1.1)."""
    body = await read_body(request, _MAX_PROTOCOL_BODY)
    return await run_in_threadpool(_ocsp_answer, request, hierarchy, body)


@router.get(
    "/{hierarchy}/ocsp/{encoded:path}",
    response_class=Response,
    summary="OCSP (GET)",
    responses={
        **_binary("application/ocsp-response", "The OCSP response (DER)."),
        **problem_responses(414),
    },
)
async def ocsp_get(request: Request, hierarchy: Hierarchy, encoded: str) -> Response:
    """OCSP over GET: the DER request, base64 and URL-encoded, in the path."""
    if len(encoded) > _MAX_PROTOCOL_BODY:
        raise HTTPException(414, "OCSP request too long")
    try:
        body = base64.b64decode(encoded, validate=False)
    except (binascii.Error, ValueError):
        raise HTTPException(400, "the OCSP request is not base64") from None
    return await run_in_threadpool(_ocsp_answer, request, hierarchy, body)


@router.post(
    "/{hierarchy}/tsa",
    response_class=Response,
    summary="Time-stamp (RFC 3161)",
    openapi_extra=_binary_body("application/timestamp-query"),
    responses={
        **_binary("application/timestamp-reply", "The time-stamp response (DER)."),
        **problem_responses(413),
    },
)
async def tsa(request: Request, hierarchy: Hierarchy) -> Response:
    """RFC 3161 time-stamping over HTTP."""
    body = await read_body(request, _MAX_PROTOCOL_BODY)
    authority = await run_in_threadpool(trust_services(request).tsa, hierarchy)
    answer = await run_in_threadpool(authority.respond, body)
    return Response(answer, media_type="application/timestamp-reply")
