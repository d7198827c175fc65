"""Version 1 of the API for approval systems: seal a PDF or an OFD, and the public seal
directory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api import (
    archive_routes,
    enterprise_routes,
    library_routes,
    licence_routes,
    seal_routes,
    signature_routes,
    verify_routes,
)
from api.auth import Caller, require_scope
from api.bodies import HTTP_NAMES, pdf_response, pdf_upload_body, read_document_upload
from api.cpu_bound import run_cpu_bound
from api.metrics import SEALS_APPLIED
from api.problems import problem_responses
from api.state import sealer, service_context
from sealsvc import ofd_sealing
from sealsvc.errors import InvalidInput
from sealsvc.pades import Level, Placement, SealOptions
from sealsvc.sealing import SealResult

__all__ = ["HTTP_NAMES", "SignOptions", "router"]

router = APIRouter(prefix="/v1", tags=["v1"])
router.include_router(seal_routes.router)
router.include_router(licence_routes.router)
router.include_router(verify_routes.router)
router.include_router(archive_routes.router)
router.include_router(signature_routes.router)
router.include_router(library_routes.router)
router.include_router(enterprise_routes.router)

_PAGE_EDGE_MM = 5080.0
"""The largest PDF page side (14,400 points = 200 inches), a bound for coordinates."""
_POSITION = (
    "of the stamp's centre, in millimetres from the page's lower-left corner (x_mm to the "
    "right, y_mm up); give both or neither, and the whole stamp (size_mm across) must lie "
    "on the page, else 400"
)
_Coordinate = Annotated[float | None, Field(ge=0, le=_PAGE_EDGE_MM, allow_inf_nan=False)]
_Text = Annotated[str | None, Field(max_length=200)]


class SignOptions(BaseModel):
    """How to seal: level and placement of the stamp, and the signature's text fields.

    Given as query parameters or as multipart form fields of the same names (a form field
    wins).  Place the stamp by at most one of position (``x_mm`` and ``y_mm``: the stamp's
    centre from the page's lower-left corner), ``anchor`` text, ``field`` name or
    ``invisible``; with none, the stamp goes to a default place on ``page``.
    """

    model_config = ConfigDict(extra="ignore")

    level: Level = Field(Level.B_T, description="PAdES baseline level.")
    page: int = Field(1, ge=1, le=100_000, description="1-based page of the stamp.")
    x_mm: _Coordinate = Field(None, description="Horizontal position " + _POSITION + ".")
    y_mm: _Coordinate = Field(None, description="Vertical position " + _POSITION + ".")
    anchor: _Text = Field(None, description="Centre the stamp on this text, e.g. （盖章）.")
    field: _Text = Field(None, description="Fill this empty signature field.")
    invisible: bool = Field(False, description="Sign without a visible stamp.")
    size_mm: float = Field(42.0, ge=5, le=100, description="Diameter of the stamp.")
    certify: bool = Field(False, description="Certify the document (DocMDP, first seal only).")
    reason: _Text = None
    location: _Text = None
    contact: _Text = None

    def seal_options(self) -> SealOptions:
        """The domain's options (which check the placement's consistency)."""
        return SealOptions(
            level=self.level,
            placement=Placement(
                page=self.page,
                x_mm=self.x_mm,
                y_mm=self.y_mm,
                anchor=self.anchor or None,
                field=self.field or None,
                invisible=self.invisible,
                size_mm=self.size_mm,
                names=HTTP_NAMES,
            ),
            reason=self.reason or None,
            location=self.location or None,
            contact=self.contact or None,
            certify=self.certify,
        )


def _with_form_fields(query: SignOptions, fields: dict[str, str]) -> SignOptions:
    names = SignOptions.model_fields.keys() & fields.keys()
    if not names:
        return query
    merged = {**query.model_dump(exclude_unset=True), **{n: fields[n] for n in names}}
    try:
        return SignOptions.model_validate(merged)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


_UPLOAD_BODY = pdf_upload_body(
    "The PDF or OFD: multipart field ``file`` (options as further fields) or the raw file as "
    "the body (``application/pdf``, ``application/ofd``; an OFD is also told by its content).",
    other_fields=True,
    ofd=True,
)


@router.post(
    "/seals/{code}/sign",
    response_class=Response,
    summary="Seal a PDF or an OFD",
    openapi_extra={"requestBody": _UPLOAD_BODY},
    responses={
        200: pdf_response(
            "The sealed PDF or OFD (the format sent); headers name the seal, the document "
            "hash and the audit entry.",
            {"X-Seal-Code": "string", "X-Document-SHA256": "string", "X-Audit-Seq": "integer"},
            ofd=True,
        ),
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 500),
    },
)
async def sign(
    request: Request,
    code: str,
    caller: Annotated[Caller, Depends(require_scope("sign", seal_in_path="code"))],
    query: Annotated[SignOptions, Query()],
) -> Response:
    """Seal the uploaded PDF or OFD with seal ``code`` of the caller's department.

    Needs an API key with the ``sign`` scope (``Authorization: Bearer sk_…``).  409 when
    the seal is suspended, revoked or expired.  Every seal applied is written to the audit
    log with the API key id, the client's address and the sealed document's SHA-256.

    An OFD gets a GB/T 38540 ``SES_Signature`` (SM2 seals only: 409 for an RSA seal) and
    comes back as ``application/ofd``.  Its levels: ``B-B`` no time-stamp, ``B-T``
    time-stamped by our TSA inside the signature; ``B-LT``/``B-LTA``, ``certify``,
    ``field``, ``size_mm`` (the stamp is the seal's picture at its printed size),
    ``reason``, ``location`` and ``contact`` do not apply to OFD: 400.
    """
    context = service_context(request)
    data, fields, is_ofd = await read_document_upload(request, context.settings.max_pdf_bytes)
    sign_options = _with_form_fields(query, fields)
    options = sign_options.seal_options()
    details = caller.audit_details(request)
    result: ofd_sealing.OfdSealResult | SealResult
    if is_ofd:
        if "size_mm" in sign_options.model_fields_set:
            raise InvalidInput("size_mm does not apply to OFD: the stamp is the seal's picture")
        result = await run_cpu_bound(
            request,
            ofd_sealing.seal_ofd,
            context,
            data,
            code,
            options.placement,
            timestamp=ofd_sealing.timestamp_for(options),
            actor=caller.actor,
            details={**details, "level": options.level.value},
            trust=sealer(request).trust,
        )
        SEALS_APPLIED.labels(level=options.level.value).inc()
        document, media_type = result.ofd, ofd_sealing.MEDIA_TYPE
    else:
        result = await run_cpu_bound(
            request,
            sealer(request).seal,
            data,
            code,
            options,
            actor=caller.actor,
            details=details,
        )
        SEALS_APPLIED.labels(level=result.level).inc()
        document, media_type = result.pdf, "application/pdf"
    return Response(
        document,
        media_type=media_type,
        headers={
            "X-Seal-Code": result.seal_code,
            "X-Document-SHA256": result.output_sha256,
            "X-Audit-Seq": str(result.audit_seq),
        },
    )
