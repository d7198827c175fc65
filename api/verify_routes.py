"""``POST /v1/verify``: the validation report of an uploaded PDF or OFD, for anyone.

Public like the seal directory: citizens, other departments and their systems verify
documents without an API key (a key, if sent, is neither needed nor checked).  The answer
is the report of :mod:`sealsvc.verification` (schema ``sealsvc.verification/1``, see
``docs/verification-report.md``) plus the licence's registry verdict: ``accepted``,
``licence_status``, ``conclusion`` and ``licence``.  An OFD is told by its content (a ZIP
naming ``OFD.xml``) whatever the media type says, and gets the same report.  A file that
is not a readable PDF or OFD is not an error of the request: it is answered 200 with the
report's verdict ``TOTAL_FAILED`` / ``FORMAT_FAILURE``, the same answer ``sealctl verify``
gives.  Only the envelope is refused: 413 over the size limit, 415 for another media type,
400 for a multipart body without ``file``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.bodies import pdf_upload_body, read_document_upload
from api.cpu_bound import run_cpu_bound
from api.metrics import VERIFICATIONS
from api.problems import problem_responses
from api.state import document_verifier, service_context
from sealsvc.verification.service import DocumentCheck, DocumentVerifier

__all__ = ["check_upload", "router"]

router = APIRouter(prefix="/verify", tags=["verify"])

_UPLOAD_BODY = pdf_upload_body(
    "The PDF or OFD: multipart field ``file``, or the raw file as the body "
    "(``application/pdf`` or ``application/ofd``).",
    other_fields=False,
    ofd=True,
)


async def check_upload(
    request: Request, pdf: bytes, licence_number: str | None = None, *, ofd: bool | None = None
) -> DocumentCheck:
    """Verify ``pdf`` (an OFD if ``ofd``) with the app's verifier (a CPU-bound job); count
    the verdict."""
    verifier: DocumentVerifier = document_verifier(request)
    result = await run_cpu_bound(
        request, verifier.check, pdf, licence_number=licence_number, ofd=ofd
    )
    VERIFICATIONS.labels(indication=result.report.verdict.value).inc()
    return result


@router.post(
    "",
    summary="Verify a sealed PDF or OFD",
    openapi_extra={"requestBody": _UPLOAD_BODY},
    responses={
        200: {
            "description": "The verification report (schema ``sealsvc.verification/1``) "
            "plus the licence's registry verdict at the top level — gate on ``accepted``, "
            "not on ``verdict`` alone: valid seals do not make an annulled licence valid. "
            "``accepted``: true only when ``verdict`` is TOTAL_PASSED and, if the file is "
            "one of our licences, that licence is still valid. ``licence_status``: null "
            "(no licence of ours), ``valid``, ``annulled`` or ``superseded`` (a re-issue "
            "replaced this version). ``conclusion``: the one sentence in Chinese, e.g. "
            "印章有效，但该证照已于 2026-12-04 被注销，不再有效。 ``licence``: null, or the "
            "registered licence the file is or names (number, title, issuer, status, "
            "annul_kind revoked 吊销 / cancelled 注销, status_changed_at, sentence, "
            "document_matches, registered_sha256 …).",
        },
        **problem_responses(400, 413, 415),
    },
)
async def verify_pdf(request: Request) -> dict[str, Any]:
    """Verify every seal and time-stamp of the uploaded PDF or OFD; no API key needed."""
    data, _, ofd = await read_document_upload(
        request, service_context(request).settings.max_pdf_bytes
    )
    return (await check_upload(request, data, ofd=ofd)).to_dict()
