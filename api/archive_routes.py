"""``POST /v1/archive/extend``: an archive system renews the evidence of a sealed PDF.

The HTTP face of ``sealctl archive extend`` (:mod:`sealsvc.archive`): fresh validation
data for this service's certificates in the file and a new document time-stamp (PAdES
B-LTA renewal).  An electronic records archive keeps thousands of sealed licences for
decades and renews them on a schedule, so it calls this rather than an operator's CLI.
Needs a key with the ``archive`` scope (or ``admin``); the key is not bound to a
department, since the archive holds every department's documents.  Documents without a
seal or time-stamp of this service are refused with 400, like every other unreadable
upload.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api.auth import Caller, require_scope
from api.bodies import pdf_response, pdf_upload_body, read_pdf_upload
from api.cpu_bound import run_cpu_bound
from api.problems import problem_responses
from sealsvc.archive import ArchiveExtender

__all__ = ["router"]

router = APIRouter(prefix="/archive", tags=["archive"])

_UPLOAD_BODY = pdf_upload_body(
    "A PDF this service sealed: multipart field ``file`` or the raw PDF as the body.",
    other_fields=False,
)


@router.post(
    "/extend",
    response_class=Response,
    summary="Renew a sealed PDF's long-term evidence (B-LTA)",
    openapi_extra={"requestBody": _UPLOAD_BODY},
    responses={
        200: pdf_response(
            "The PDF with fresh validation data and one more document time-stamp; every "
            "earlier signature is kept byte for byte.",
            {"X-Document-SHA256": "string", "X-Audit-Seq": "integer"},
        ),
        **problem_responses(400, 401, 403, 413, 415, 429),
    },
)
async def extend(
    request: Request,
    caller: Annotated[Caller, Depends(require_scope("archive"))],
) -> Response:
    """Add validation data and a document time-stamp to a PDF this service sealed.

    Run it for archived documents well before the newest time-stamp's TSA certificate
    expires (10 years); it also lifts B-B/B-T documents to B-LTA.  Every renewal is written
    to the audit log (``archive.extend``) with the API key id and the client's address.
    """
    pdf, _ = await read_pdf_upload(request, request.app.state.context.settings.max_pdf_bytes)
    extender: ArchiveExtender = request.app.state.archive
    extension = await run_cpu_bound(
        request,
        extender.extend,
        pdf,
        actor=caller.actor,
        details=caller.audit_details(request),
    )
    return Response(
        extension.pdf,
        media_type="application/pdf",
        headers={
            "X-Document-SHA256": extension.output_sha256,
            "X-Audit-Seq": str(extension.audit_seq),
        },
    )
