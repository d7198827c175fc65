"""Licence endpoints: issue (template + data → sealed PDF or OFD licence), fetch, download, annul.

A licence has one file, in the format it was issued in: ``/pdf`` serves a PDF licence,
``/ofd`` an OFD one, and asking for the other is a 409 problem naming the format it has.

Issuing needs the ``licence`` scope and seals of the caller's own department (an admin key
may use any); reading a record returns the licence's data, so it needs the scope too.  The
public status of a licence (for the QR code) lives with the citizen verification page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypedDict

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Caller, require_scope
from api.bodies import OFD_MEDIA_TYPE, pdf_response
from api.cpu_bound import run_cpu_bound
from api.problems import problem, problem_responses
from api.seal_sets import seal_set_body
from api.state import sealer, service_context
from api.urls import public_url
from sealsvc import licences
from sealsvc.enterprise import issuance as enterprise_issuance
from sealsvc.errors import Forbidden
from sealsvc.licences.issuer import IssuerRefused
from sealsvc.licences.pipeline import get_licence_file, record_metadata
from sealsvc.models import AnnulKind, LicenceFormat
from sealsvc.pades import Level

if TYPE_CHECKING:
    from sealsvc.context import ServiceContext
    from sealsvc.sealing import Sealer

__all__ = ["LicenceRequest", "check_access", "router"]

router = APIRouter(prefix="/licences", tags=["licences"])


class LicenceRequest(BaseModel):
    """What an approval system sends to issue a licence."""

    model_config = ConfigDict(extra="forbid")

    template: str = Field(max_length=64, description="Template name, e.g. business_licence.")
    data: dict[str, Any] = Field(
        description="Field values, validated against the template. The template's issuer "
        "field (e.g. authority, 登记机关) may be left out: it is filled in with the registered "
        "names of the seals' departments, joined with 、 in seal order; a value that names "
        "anyone else is refused with 422."
    )
    seals: list[str] = Field(
        min_length=1,
        max_length=8,
        description="Seal codes, in order (the first certifies); each of a kind the template "
        "allows (see `sealctl template show`).",
    )
    format: LicenceFormat = Field(
        LicenceFormat.PDF,
        description="``pdf`` (PAdES-sealed PDF/A-2b) or ``ofd`` (GB/T 33190, each seal a GB/T "
        "38540 SES_Signature: SM2 seals only, an RSA seal is refused with 409).",
    )
    level: Level | None = Field(
        None,
        description="Default B-LTA for a PDF (archive material), B-T for an OFD. OFD takes "
        "B-B (no time-stamp) or B-T (each seal time-stamped) only.",
    )
    enterprise_seals: list[str] | None = Field(
        None,
        max_length=5,
        description='"1+X": with a 营业执照 (business_licence), the enterprise\'s seal set '
        "issued in the same transaction — kinds 公章, 财务专用章, 发票专用章, 合同专用章, "
        "法定代表人名章 or aliases official, finance, invoice, contract, legal_representative. "
        "The answer's `enterprise` holds the seals (codes, certificates, image URLs) and the "
        "enterprise's API key (shown once). If a seal cannot be made, nothing is issued.",
    )


class AnnulRequest(BaseModel):
    """How and why a licence ends; ``kind`` is required (吊销 and 注销 differ in law)."""

    model_config = ConfigDict(extra="forbid")

    kind: AnnulKind = Field(
        description="``revoked`` (吊销: withdrawn by the authority as a sanction) or "
        "``cancelled`` (注销: ended without one, e.g. at the holder's request). Required: "
        "the citizens' page and every verification report name it."
    )
    reason: str = Field(min_length=1, max_length=500, description="Why it is annulled.")


def check_access(caller: Caller, context: ServiceContext, record: licences.LicenceRecord) -> None:
    """A department sees and annuls the licences sealed with one of its own seals."""
    for code in record.seal_codes:
        try:
            caller.check_seals(context, [code])
            return
        except Forbidden:
            continue
    raise Forbidden(f"licence {record.number} was not issued by this API key's department")


def _issuer_problem(exc: IssuerRefused) -> JSONResponse:
    """422 naming the request member, the way FastAPI's own validation errors do."""
    return problem(
        exc.status,
        "Unprocessable content",
        str(exc),
        exc.kind,
        errors=[{"loc": ["body", *map(str, exc.location)], "msg": str(exc)}],
    )


def _record(request: Request, record: licences.LicenceRecord) -> dict[str, Any]:
    """The record as JSON: with its GB/T 36904 ``identifier``, GB/T 36903 ``metadata`` and
    the URL of the file."""
    body = record.as_dict()
    metadata = record_metadata(service_context(request), record)
    body["metadata"] = metadata.as_dict() if metadata else None
    route = _DOWNLOADS[LicenceFormat(record.format)]
    body["download_url"] = (
        public_url(request, route, number=record.number) + f"?version={record.version}"
    )
    return body


_DOWNLOADS = {LicenceFormat.PDF: "download_licence", LicenceFormat.OFD: "download_licence_ofd"}
"""The download route of each format (route names, for :func:`api.urls.public_url`)."""
_OFD_CONTENT = {OFD_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}


class _IssueOptions(TypedDict):
    """The keyword arguments both ways of issuing take alike (with or without an
    enterprise's seals), typed so that each call is checked."""

    actor: str
    level: Level | None
    file_format: LicenceFormat
    sealer: Sealer
    audit_details: dict[str, str]


@router.post(
    "",
    status_code=201,
    response_model=None,  # a dict, or the 422 problem of the issuer rule
    summary="Issue a licence",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def issue(
    request: Request,
    body: LicenceRequest,
    caller: Annotated[Caller, Depends(require_scope("licence", seals_documents=True))],
) -> dict[str, Any] | JSONResponse:
    """Render the template with ``data``, seal it with ``seals`` and store it.

    The issuer the licence prints must be the seals' departments and each seal of a kind
    the template allows; otherwise 422 before anything is sealed (``errors[].loc`` names
    ``data.<field>`` or ``seals.<i>``).
    """
    context = service_context(request)
    # Before the job queue, like the sign route's check: a foreign or unusable seal is
    # refused (and the refusal audited) at once, not after the seals queued ahead.
    await run_in_threadpool(caller.check_seal_use, request, body.seals)
    options = _IssueOptions(
        actor=caller.actor,
        level=body.level,
        file_format=body.format,
        sealer=sealer(request),
        audit_details=caller.audit_details(request),
    )
    seal_set = None
    try:
        if body.enterprise_seals is None:
            record = await run_cpu_bound(
                request, licences.issue_licence, context, body.template, body.data, body.seals,
                **options,
            )  # fmt: skip
        else:
            record, seal_set = await run_cpu_bound(
                request, enterprise_issuance.issue_licence_with_seals, context, body.template,
                body.data, body.seals, body.enterprise_seals, **options,
            )  # fmt: skip
    except IssuerRefused as exc:
        return _issuer_problem(exc)
    answer = _record(request, record)
    if seal_set is not None:
        answer["enterprise"] = await run_in_threadpool(seal_set_body, request, seal_set)
    return answer


@router.get(
    "/{number}", summary="A licence record", responses=problem_responses(401, 403, 404, 422)
)
async def show(
    request: Request,
    number: str,
    caller: Annotated[Caller, Depends(require_scope("licence"))],
    version: int | None = None,
) -> dict[str, Any]:
    """The stored record: data, hash, seals, status and version."""
    context = service_context(request)
    record = await run_in_threadpool(licences.get_licence, context, number, version)
    await run_in_threadpool(check_access, caller, context, record)
    return _record(request, record)


@router.get(
    "/{number}/pdf",
    name="download_licence",
    response_class=Response,
    summary="Download the sealed licence (PDF)",
    responses={
        200: pdf_response("The sealed licence, byte for byte as issued."),
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def download(
    request: Request,
    number: str,
    caller: Annotated[Caller, Depends(require_scope("licence"))],
    version: int | None = None,
) -> Response:
    """The exact bytes issued (re-download is byte-identical); 409 for an OFD licence."""
    return await _download(request, number, caller, version, LicenceFormat.PDF)


@router.get(
    "/{number}/ofd",
    name="download_licence_ofd",
    response_class=Response,
    summary="Download the sealed licence (OFD)",
    responses={
        200: {"description": "The sealed OFD licence, byte for byte as issued.",
              "content": _OFD_CONTENT},
        **problem_responses(401, 403, 404, 409, 422),
    },
)  # fmt: skip
async def download_ofd(
    request: Request,
    number: str,
    caller: Annotated[Caller, Depends(require_scope("licence"))],
    version: int | None = None,
) -> Response:
    """The exact bytes issued (re-download is byte-identical); 409 for a PDF licence."""
    return await _download(request, number, caller, version, LicenceFormat.OFD)


async def _download(
    request: Request, number: str, caller: Caller, version: int | None, expected: LicenceFormat
) -> Response:
    """The stored file if the licence was issued as ``expected`` (access checked first, so
    a 409 tells no stranger which format a licence has)."""
    context = service_context(request)
    record = await run_in_threadpool(licences.get_licence, context, number, version)
    await run_in_threadpool(check_access, caller, context, record)
    document = await run_in_threadpool(
        lambda: get_licence_file(context, number, record.version, expected=expected)
    )
    return Response(
        document,
        media_type=f"application/{expected.value}",
        headers={"Content-Disposition": f'attachment; filename="{number}.{expected.value}"'},
    )


@router.post(
    "/{number}/annul",
    summary="Annul a licence: revoke (吊销) or cancel (注销)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def annul(
    request: Request,
    number: str,
    body: AnnulRequest,
    caller: Annotated[Caller, Depends(require_scope("licence"))],
) -> dict[str, Any]:
    """Mark the licence annulled; verification and the QR page then say so."""
    context = service_context(request)
    current = await run_in_threadpool(licences.get_licence, context, number, None)
    await run_in_threadpool(check_access, caller, context, current)
    record = await run_in_threadpool(
        lambda: licences.annul_licence(
            context, number, body.reason, kind=body.kind, actor=caller.actor
        )
    )
    return _record(request, record)
