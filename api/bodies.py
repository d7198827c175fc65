"""Reading request bodies with a hard size limit, before anything parses them.

A body over the limit is refused with 413 as soon as the limit is crossed (a declared
Content-Length is checked first), so a client cannot make the service buffer gigabytes.
PDF uploads come as multipart field ``file`` or as a raw ``application/pdf`` body; where an
OFD is accepted too, as ``application/ofd`` or told by its content.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile

from ofd.package import is_ofd
from sealsvc.ofd_sealing import MEDIA_TYPE as OFD_MEDIA_TYPE
from sealsvc.pades import PlacementNames

__all__ = [
    "HTTP_NAMES",
    "pdf_response",
    "pdf_upload_body",
    "read_body",
    "read_document_upload",
    "read_pdf_upload",
]

HTTP_NAMES = PlacementNames(
    position="x_mm and y_mm",
    anchor="anchor",
    field="field",
    invisible="invisible",
    page="page",
    size="size_mm",
)
"""The placement options as the API's form fields name them, for the placement errors'
messages (sealing and personal signatures alike)."""


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the request body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_upload(
    request: Request, limit: int, raw_types: tuple[str, ...], what: str
) -> tuple[bytes, dict[str, str], str]:
    """The uploaded file, the other form fields and the file's declared media type."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
            raise HTTPException(413, f"the upload is larger than {limit} bytes")
        form = await request.form(max_files=1, max_fields=50, max_part_size=limit)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(400, "multipart upload without a 'file' field")
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise HTTPException(413, f"the {what} is larger than {limit} bytes")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        part_type = (upload.content_type or "").split(";")[0].strip().lower()
        return data, fields, part_type
    if content_type in (*raw_types, "application/octet-stream"):
        return await read_body(request, limit), {}, content_type
    bodies = " or ".join(raw_types)
    raise HTTPException(415, f"send the {what} as multipart field 'file' or as an {bodies} body")


async def read_pdf_upload(request: Request, limit: int) -> tuple[bytes, dict[str, str]]:
    """The uploaded PDF and the other form fields (empty for a raw body)."""
    data, fields, _ = await _read_upload(request, limit, ("application/pdf",), "PDF")
    return data, fields


async def read_document_upload(request: Request, limit: int) -> tuple[bytes, dict[str, str], bool]:
    """A PDF or an OFD: the bytes, the other form fields, and whether it is an OFD.

    OFD when declared ``application/ofd`` (raw body or the ``file`` part) or, whatever the
    declared type, when the bytes are a ZIP naming ``OFD.xml``; anything else goes the PDF
    way, whose parser says what is wrong with it.
    """
    data, fields, declared = await _read_upload(
        request, limit, ("application/pdf", OFD_MEDIA_TYPE), "document"
    )
    return data, fields, declared == OFD_MEDIA_TYPE or is_ofd(data)


_BINARY = {"schema": {"type": "string", "format": "binary"}}
_PDF_CONTENT = {"application/pdf": _BINARY}
_OFD_CONTENT = {OFD_MEDIA_TYPE: _BINARY}


def pdf_upload_body(
    description: str, *, other_fields: bool, ofd: bool = False
) -> dict[str, object]:
    """The OpenAPI ``requestBody`` of an endpoint read with :func:`read_pdf_upload`
    (``ofd``: with :func:`read_document_upload`).

    ``other_fields`` documents further string form fields next to ``file`` (options).
    """
    schema: dict[str, object] = {
        "type": "object",
        "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}},
    }
    if other_fields:
        schema["additionalProperties"] = {"type": "string"}
    return {
        "required": True,
        "description": description,
        "content": {
            "multipart/form-data": {"schema": schema},
            **_PDF_CONTENT,
            **(_OFD_CONTENT if ofd else {}),
        },
    }


def pdf_response(
    description: str, headers: dict[str, str] | None = None, *, ofd: bool = False
) -> dict[str, object]:
    """The OpenAPI 200 response of an endpoint that answers with a PDF (``ofd``: or an OFD).

    ``headers`` maps each response header the endpoint sets to its JSON-schema type.
    """
    return {
        "description": description,
        "content": {**_PDF_CONTENT, **(_OFD_CONTENT if ofd else {})},
        "headers": {name: {"schema": {"type": kind}} for name, kind in (headers or {}).items()},
    }
