"""``POST /v1/archive/extend``: an archive system renews the evidence of a sealed PDF.

The HTTP face of ``sealctl archive extend`` (:mod:`sealsvc.archive`): fresh validation
data for this service's certificates in the file and a new document time-stamp (PAdES
B-LTA renewal).  An electronic records archive keeps thousands of sealed licences for
decades and renews them on a schedule, so it calls this rather than an operator's CLI.
Needs a key with the ``archive`` scope (or ``admin``); the key is not bound to a
department, since the archive holds every department's documents.  Documents without a
seal or time-stamp of this service are refused with 400, like every other unreadable
upload.

``POST /v1/archive/check`` is the HTTP face of ``sealctl archive check``
(:mod:`sealsvc.archival_check`): the 四性检测 of DA/T 70 for uploaded files and registered
licences, the same JSON report.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from api.auth import Caller, require_scope
from api.bodies import pdf_response, pdf_upload_body, read_document_upload, read_pdf_upload
from api.cpu_bound import run_cpu_bound
from api.problems import problem_responses
from api.state import archive_extender, document_verifier, service_context
from sealsvc.archival_check import ARCHIVE_CHECK_SCHEMA, ArchiveChecker, Item
from sealsvc.archive import ArchiveExtender
from sealsvc.licences import check_number

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
    pdf, _ = await read_pdf_upload(request, service_context(request).settings.max_pdf_bytes)
    extender: ArchiveExtender = archive_extender(request)
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


_MAX_RECORDS = 100
"""Most records one request checks; a larger batch is ``sealctl archive check --workers``'
work (or several requests)."""

_CHECK_BODY = {
    "required": True,
    "description": (
        "multipart/form-data with one or more ``file`` parts (PDF or OFD, told by content) "
        "and/or ``number`` fields (licence numbers of the registry; numbers alone may come "
        "as application/x-www-form-urlencoded); or a raw PDF/OFD body "
        f"(``application/pdf``, ``application/ofd``). At most {_MAX_RECORDS} records; the "
        "whole request at most SEALSVC_MAX_PDF_BYTES."
    ),
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "number": {"type": "array", "items": {"type": "string"}},
                },
            }
        },
        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        "application/ofd": {"schema": {"type": "string", "format": "binary"}},
    },
}


@router.post(
    "/check",
    summary="四性检测 (DA/T 70) of records: authenticity, integrity, usability, security",
    openapi_extra={"requestBody": _CHECK_BODY},
    responses={
        200: {
            "description": (
                "The report (schema ``sealsvc.archive-check/1``, the same JSON as "
                "``sealctl archive check --json``); ``passed`` is true only when every "
                "record passes all four properties. A bad file is a failing record, not "
                "an error."
            ),
            "content": {"application/json": {"schema": ARCHIVE_CHECK_SCHEMA}},
        },
        **problem_responses(400, 401, 403, 404, 413, 415, 429),
    },
)
async def check(
    request: Request,
    caller: Annotated[Caller, Depends(require_scope("archive"))],
) -> JSONResponse:
    """Check uploaded records and/or registered licences; answers one report for all.

    Needs the ``archive`` scope (or ``admin``): the report compares each record with the
    registry (licence status, GB/T 36903 metadata as issued) and checks stored licences by
    number, which is the archive's business, not the public's (``POST /v1/verify`` is the
    public check of one document).
    """
    items = await _check_items(request)
    checker = _checker(request)
    report = await run_cpu_bound(request, checker.check, items)
    return JSONResponse(report.to_dict())


def _checker(request: Request) -> ArchiveChecker:
    """One per worker process, sharing the worker's verifier and its caches."""
    state = request.app.state
    checker: ArchiveChecker | None = getattr(state, "archive_checker", None)
    if checker is None:
        checker = ArchiveChecker(service_context(request), verifier=document_verifier(request))
        state.archive_checker = checker
    return checker


async def _check_items(request: Request) -> list[Item]:
    limit = service_context(request).settings.max_pdf_bytes
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        data, _, _ = await read_document_upload(request, limit)
        return [Item("upload", data=data)]
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise HTTPException(413, f"the request is larger than {limit} bytes")
    form = await request.form(
        max_files=_MAX_RECORDS, max_fields=_MAX_RECORDS + 10, max_part_size=limit
    )
    items: list[Item] = []
    size = 0
    for name, value in form.multi_items():
        if name == "file" and isinstance(value, UploadFile):
            data = await value.read(limit + 1)
            size += len(data)
            if size > limit:
                raise HTTPException(413, f"the uploads are larger than {limit} bytes together")
            items.append(Item(value.filename or f"file {len(items) + 1}", data=data))
        elif name == "number" and isinstance(value, str):
            check_number(value.strip())
            items.append(Item(f"licence:{value.strip()}", number=value.strip()))
        else:
            raise HTTPException(400, f"unexpected form field {name!r}: send 'file' or 'number'")
    if not items:
        raise HTTPException(400, "no record to check: send 'file' parts or 'number' fields")
    if len(items) > _MAX_RECORDS:
        raise HTTPException(400, f"more than {_MAX_RECORDS} records in one request")
    return items
