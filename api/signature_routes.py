"""``POST /v1/signatures``: the platform has a person sign a PDF or an OFD (电子签名, #18 §3).

The caller is the 一网通办 platform with an API key of scope ``signature``; the person is
named by an ID token the platform's identity provider issued moments ago.  The key proves
which system asks, the token who signs: neither alone signs as anyone.  A token that fails
a check is answered 401 naming the check (``IdentityTokenRefused``), the same limits and
problem+json as sealing apply to the upload.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.auth import Caller, require_scope
from api.bodies import HTTP_NAMES
from api.cpu_bound import run_cpu_bound
from api.problems import problem_responses
from api.state import sealer, service_context
from sealsvc.identity import verify_id_token
from sealsvc.ofd_sealing import MEDIA_TYPE as OFD_MEDIA_TYPE
from sealsvc.pades import Level, Placement
from sealsvc.personal_signing import LEVELS, sign_as_person

__all__ = ["SignatureOptions", "router"]

router = APIRouter(tags=["signatures"])

_IMAGE_LIMIT = 2_000_000
"""Largest signature image accepted (the same bound as an uploaded seal scan)."""
_TOKEN_LIMIT = 16 * 1024
_Coordinate = Annotated[float | None, Field(ge=0, le=5080.0, allow_inf_nan=False)]


class SignatureOptions(BaseModel):
    """How to sign: the role, where the signature goes, the level and the CA hierarchy."""

    model_config = ConfigDict(extra="ignore")

    role: str = Field(
        min_length=1, max_length=32, description="The signer's role: 经办人, 审核人, 签发人 …"
    )
    level: Level = Field(
        Level.B_T,
        description=(
            f"PAdES level: {', '.join(LEVELS)} for a PDF; B-T (time-stamped) or, for an "
            "official's long-lived certificate only, B-B for an OFD."
        ),
    )
    page: int = Field(1, ge=1, le=100_000, description="1-based page of the signature.")
    x_mm: _Coordinate = Field(None, description="Centre of the signature from the left, mm.")
    y_mm: _Coordinate = Field(None, description="Centre of the signature from the bottom, mm.")
    anchor: str | None = Field(None, max_length=200, description="Centre it on this text.")
    size_mm: float = Field(36.0, ge=5, le=100, description="Side of the signature's square.")
    hierarchy: str = Field(
        "rsa",
        pattern="^(rsa|sm2)$",
        description="CA of a PDF's event certificate: rsa or sm2 (an OFD's is always sm2).",
    )

    def placement(self) -> Placement:
        return Placement(
            page=self.page,
            x_mm=self.x_mm,
            y_mm=self.y_mm,
            anchor=self.anchor or None,
            size_mm=self.size_mm,
            names=HTTP_NAMES,
        )


async def _read_form(request: Request, limit: int) -> tuple[bytes, bytes | None, dict[str, str]]:
    """The PDF, the optional signature image and the other fields of the multipart form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        raise HTTPException(415, "send multipart/form-data with 'file' and 'id_token'")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + _IMAGE_LIMIT + 64 * 1024:
        raise HTTPException(413, f"the upload is larger than {limit} bytes")
    form = await request.form(max_files=2, max_fields=20, max_part_size=limit)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPException(400, "multipart upload without a 'file' field")
    document = await upload.read(limit + 1)
    if len(document) > limit:
        raise HTTPException(413, f"the document is larger than {limit} bytes")
    image = None
    picture = form.get("signature_image")
    if isinstance(picture, UploadFile):
        image = await picture.read(_IMAGE_LIMIT + 1)
        if len(image) > _IMAGE_LIMIT:
            raise HTTPException(413, f"the signature image is larger than {_IMAGE_LIMIT} bytes")
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    return document, image, fields


@router.post(
    "/signatures",
    response_class=Response,
    summary="Sign a PDF or an OFD as a person",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file", "id_token", "role"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "signature_image": {"type": "string", "format": "binary"},
                            "id_token": {"type": "string"},
                        },
                        "additionalProperties": {"type": "string"},
                    }
                }
            },
        }
    },
    responses={
        200: {
            "content": {"application/pdf": {}, OFD_MEDIA_TYPE: {}},
            "description": "The signed document; headers name the certificate and audit entry.",
        },
        **problem_responses(400, 401, 403, 413, 415, 422, 429, 500),
    },
)
async def sign_as_person_route(
    request: Request,
    caller: Annotated[Caller, Depends(require_scope("signature"))],
) -> Response:
    """Sign the uploaded PDF or OFD as the person the ``id_token`` names, in ``role``.

    Needs an API key with the ``signature`` scope.  An enrolled official signs with their
    long-lived certificate, anyone else with an event certificate made for this request
    (``X-Event-Certificate: true``).  401 names the identity-token check that failed.
    """
    context = service_context(request)
    document, image, fields = await _read_form(request, context.settings.max_pdf_bytes)
    token = fields.get("id_token", "")
    if not token or len(token) > _TOKEN_LIMIT:
        raise HTTPException(400, "the form needs an 'id_token' field (at most 16 KiB)")
    try:
        options = SignatureOptions.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    placement = options.placement()
    actor = caller.actor
    person = await run_in_threadpool(verify_id_token, context, token, actor=actor)
    result = await run_cpu_bound(
        request,
        sign_as_person,
        context,
        document,
        person,
        placement=placement,
        level=options.level,
        role=options.role,
        signature_image_png=image,
        actor=actor,
        details=caller.audit_details(request),
        trust=sealer(request).trust,
        hierarchy=options.hierarchy,
    )
    return Response(
        result.document,
        media_type=OFD_MEDIA_TYPE if result.format == "ofd" else "application/pdf",
        headers={
            "X-Certificate-Serial": result.certificate_serial,
            "X-Event-Certificate": "true" if result.event else "false",
            "X-Document-SHA256": result.output_sha256,
            "X-Audit-Seq": str(result.audit_seq),
        },
    )
