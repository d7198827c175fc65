"""The public seal directory: which seals exist, their certificates and their images.

Public (no API key), like the PKI endpoints: a relying party that holds a sealed document
looks up the seal code printed on the stamp and checks what the registry says about it.
Only what a relying party needs is shown — key store ids and the operator's certificate
history stay in ``sealctl seal show``.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated

from asn1crypto import pem
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.problems import problem_responses
from api.urls import public_url
from sealsvc import seals
from sealsvc.models import Certificate, SealStatus

__all__ = ["SealDetail", "SealSummary", "router"]

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
    kind: str = Field(description="公章, 财务专用章, 合同专用章, 业务专用章 or 行政审批专用章.")
    department: DepartmentRef
    algorithm: str = Field(description="Key algorithm: rsa2048, rsa3072, p256 or sm2.")
    status: SealStatus = Field(description="Effective status; only active seals seal.")
    validity: Validity


class CertificateInfo(BaseModel):
    serial: str = Field(description="Serial number, decimal.")
    serial_hex: str = Field(description="Serial number, hexadecimal (as openssl prints it).")
    subject: str
    sha256: str = Field(description="SHA-256 of the DER certificate, hex.")


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


def _summary_fields(view: seals.SealView) -> dict:
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
    context = request.app.state.context

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
    context = request.app.state.context

    def read() -> SealDetail:
        with context.database.session(read_only=True) as session:
            view = seals.show(session, code)
            chain = _chain_pem(seals.get(session, code).current_certificate)
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
        )

    return await run_in_threadpool(read)


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
    context = request.app.state.context

    def read() -> bytes:
        with context.database.session(read_only=True) as session:
            appearance = seals.appearance(seals.get(session, code))
        return _png(appearance)

    png = await run_in_threadpool(read)
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=300"})
