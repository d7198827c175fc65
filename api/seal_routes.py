"""The public seal directory: which seals exist, their certificates and their images.

Public (no API key), like the PKI endpoints: a relying party that holds a sealed document
looks up the seal code printed on the stamp and checks what the registry says about it.
Only what a relying party needs is shown — key store ids and the operator's certificate
history stay in ``sealctl seal show``.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any

from asn1crypto import pem
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.problems import problem_responses
from api.state import service_context
from api.urls import public_url
from sealsvc import seals, ses_seals
from sealsvc.models import Certificate, SealAlgorithm, SealStatus

__all__ = ["SealDetail", "SealSummary", "SesSealInfo", "router"]

router = APIRouter(prefix="/seals", tags=["seals"])
_MAX_CHAIN = 4
"""Longest chain the directory walks (seal, issuing CA, root; one spare level)."""


class DepartmentRef(BaseModel):
    code: str = Field(description="Department code (e.g. ZZ-D26).")
    name: str = Field(description="Current department name.")


class Validity(BaseModel):
    not_before: datetime = Field(description="Start of the current certificate (UTC).")
    not_after: datetime = Field(description="End of the current certificate (UTC).")


class SealSummary(BaseModel):
    """One seal as the directory lists it."""

    code: str = Field(description="14-digit seal code (印章编码), as printed on the stamp.")
    text: str = Field(description="The seal's text, usually the organisation's name.")
    kind: str = Field(
        description="公章, 财务专用章, 合同专用章, 业务专用章, 行政审批专用章, or of an "
        "enterprise's set 发票专用章 and 法定代表人名章."
    )
    department: DepartmentRef
    algorithm: str = Field(description="Key algorithm: rsa2048, rsa3072, p256 or sm2.")
    status: SealStatus = Field(description="Effective status; only active seals seal.")
    validity: Validity


class CertificateInfo(BaseModel):
    serial: str = Field(description="Serial number, decimal.")
    serial_hex: str = Field(description="Serial number, hexadecimal (as openssl prints it).")
    subject: str
    sha256: str = Field(description="SHA-256 of the DER certificate, hex.")


class SesMaker(BaseModel):
    subject: str = Field(description="Subject of the seal maker's (制章者) certificate.")
    serial: str = Field(description="Serial number of the seal maker's certificate, decimal.")


class SesPicture(BaseModel):
    type: str = Field(description="Image format inside the seal object (png).")
    width_mm: int = Field(description="Printed width in millimetres.")
    height_mm: int = Field(description="Printed height in millimetres.")
    bytes: int = Field(description="Size of the image data.")


class SesSealInfo(BaseModel):
    """The seal's current GB/T 38540 electronic seal object (SESeal), as its DER says."""

    version: int = Field(description="SES version (4: GB/T 38540-2020).")
    es_id: str = Field(description="esID: the seal code.")
    name: str = Field(description="The seal's name inside the object.")
    type: int = Field(
        description="Seal type: 1 = 单位印章 (an organisation's seal), 2 = 个人印章 (a "
        "法定代表人名章)."
    )
    created: datetime
    valid_start: datetime
    valid_end: datetime
    maker: SesMaker
    picture: SesPicture
    sha256: str = Field(description="SHA-256 of the DER object served at seal.esl, hex.")
    esl_url: str = Field(description="Where the DER object is served.")


class SealDetail(SealSummary):
    """One seal with its current certificate, chain and image link."""

    hierarchy: str = Field(description="CA hierarchy that certifies the seal: rsa or sm2.")
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    certificate: CertificateInfo
    chain_pem: list[str] = Field(
        description="PEM certificates: the seal's current certificate, then its issuers up to "
        "the root."
    )
    image_url: str = Field(description="Where the seal's image is served as PNG.")
    ses: SesSealInfo | None = Field(
        None, description="SM2 seals: the current GB/T 38540 seal object; null otherwise."
    )


def _summary_fields(view: seals.SealView) -> dict[str, Any]:
    current = view.current_certificate
    return {
        "code": view.code,
        "text": view.text,
        "kind": view.kind,
        "department": DepartmentRef(code=view.department_code, name=view.department_name),
        "algorithm": view.algorithm,
        "status": view.status,
        "validity": Validity(not_before=current.not_before, not_after=current.not_after),
    }


def _chain_pem(certificate: Certificate | None) -> list[str]:
    chain: list[str] = []
    while certificate is not None and len(chain) < _MAX_CHAIN:
        chain.append(pem.armor("CERTIFICATE", certificate.der).decode("ascii"))
        certificate = certificate.issuer
    return chain


@router.get(
    "",
    response_model=list[SealSummary],
    summary="List seals",
    responses=problem_responses(404, 422),
)
async def list_seals(
    request: Request,
    department: Annotated[
        str | None, Query(max_length=200, description="Department code or name.")
    ] = None,
    status: Annotated[SealStatus | None, Query(description="Effective status.")] = None,
) -> list[SealSummary]:
    """Every registered seal, ordered by code; 404 for an unknown department."""
    context = service_context(request)

    def read() -> list[SealSummary]:
        with context.database.session(read_only=True) as session:
            views = seals.list_seals(session, department=department, status=status)
        return [SealSummary(**_summary_fields(view)) for view in views]

    return await run_in_threadpool(read)


@router.get(
    "/{code}",
    response_model=SealDetail,
    summary="Show a seal",
    responses=problem_responses(404, 422),
)
async def show_seal(request: Request, code: str) -> SealDetail:
    """A seal's public data, its certificate chain as PEM and a link to its image."""
    context = service_context(request)

    def read() -> SealDetail:
        with context.database.session(read_only=True) as session:
            view = seals.show(session, code)
            chain = _chain_pem(seals.get(session, code).current_certificate)
            ses = _ses_info(request, session, view)
        current = view.current_certificate
        return SealDetail(
            **_summary_fields(view),
            hierarchy=view.hierarchy,
            revoked_at=view.revoked_at,
            revocation_reason=view.revocation_reason,
            certificate=CertificateInfo(
                serial=current.serial,
                serial_hex=format(int(current.serial), "x"),
                subject=current.subject,
                sha256=current.sha256,
            ),
            chain_pem=chain,
            image_url=public_url(request, "seal_image", code=view.code),
            ses=ses,
        )

    return await run_in_threadpool(read)


def _ses_info(request: Request, session: Session, view: seals.SealView) -> SesSealInfo | None:
    if view.algorithm != SealAlgorithm.SM2:
        return None
    try:
        data = ses_seals.describe(ses_seals.current(session, view.code)).as_dict()
    except ses_seals.NoSesSeal:  # an SM2 seal from before SESeals, not yet backfilled
        return None
    return SesSealInfo(**data, esl_url=public_url(request, "seal_esl", code=view.code))


@router.get(
    "/{code}/seal.esl",
    name="seal_esl",
    response_class=Response,
    summary="A seal's GB/T 38540 electronic seal object",
    responses={
        200: {
            "content": {"application/octet-stream": {}},
            "description": "The seal's current SESeal, DER.",
        },
        **problem_responses(404, 409, 422),
    },
)
async def seal_esl(request: Request, code: str) -> Response:
    """The SM2 seal's current electronic seal object (SESeal, DER); 409 for an RSA seal."""
    context = service_context(request)

    def read() -> tuple[str, bytes]:
        with context.database.session(read_only=True) as session:
            row = ses_seals.current(session, code)
            return row.seal.code, row.der

    seal_code, der = await run_in_threadpool(read)
    return Response(
        der,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{seal_code}.esl"',
            "Cache-Control": "public, max-age=300",
        },
    )


@lru_cache(maxsize=64)
def _png(appearance: seals.SealAppearance) -> bytes:
    """Drawing a seal takes about a second: cache per appearance (text, kind, code, scan)."""
    return seals.seal_png(appearance)


@router.get(
    "/{code}/image.png",
    name="seal_image",
    response_class=Response,
    summary="A seal's image",
    responses={
        200: {"content": {"image/png": {}}, "description": "The seal image (PNG, RGBA)."},
        **problem_responses(404, 422),
    },
)
async def seal_image(request: Request, code: str) -> Response:
    """The seal's image: its uploaded scan, or drawn from its text, kind and code."""
    context = service_context(request)

    def read() -> bytes:
        with context.database.session(read_only=True) as session:
            appearance = seals.appearance(seals.get(session, code))
        return _png(appearance)

    png = await run_in_threadpool(read)
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=300"})
