"""The licence library (``/v1/library``): 归集, 共享/用证, 核验, 亮证 and the change feed.

HTTP only; the rules live in :mod:`sealsvc.library`.  Every route but ``/show`` needs a key
with the ``library`` scope, bound to a department that sees the licence types granted to
it (403 otherwise).  Holder codes travel in JSON bodies, never in a URL: an ID number must
not land in an access log.  Lookups, face data and files take the 用证事由 (``purpose``
and ``item_code``), refused with 400 without.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Caller, require_scope
from api.bodies import OFD_MEDIA_TYPE, pdf_upload_body, read_document_upload
from api.cpu_bound import run_cpu_bound
from api.problems import problem_responses
from api.state import service_context
from api.urls import public_url
from sealsvc.library import changes, collect, sharing, showcodes
from sealsvc.library.entries import LibraryEntry
from sealsvc.library.sharing import Purpose
from sealsvc.models import AnnulKind, LicenceFormat

__all__ = ["router"]

router = APIRouter(prefix="/library", tags=["licence library"])

_Library = Annotated[Caller, Depends(require_scope("library"))]
_Text = Annotated[str | None, Field(max_length=200)]
_HOLDER = "统一社会信用代码 or 居民身份证 number of the holder (never stored or logged in clear)."


class LookupRequest(BaseModel):
    """共享/用证: the holder and licence type looked for, and why."""

    model_config = ConfigDict(extra="forbid")

    holder_code: str | None = Field(None, max_length=64, description=_HOLDER)
    type_code: str | None = Field(None, max_length=21, description="证照类型代码 (21 characters).")
    purpose: _Text = Field(None, description="用证事由: why the licence is used (required).")
    item_code: str | None = Field(
        None, max_length=64, description="事项编码 of the service item it serves (required)."
    )


class CheckRequest(BaseModel):
    """核验: a licence by its identifier, or by its number and the holder's code."""

    model_config = ConfigDict(extra="forbid")

    identifier: str | None = Field(None, max_length=160, description="GB/T 36904 identifier.")
    number: str | None = Field(None, max_length=200, description="证照编号 (with holder_code).")
    holder_code: str | None = Field(None, max_length=64, description=_HOLDER)


class AnnulRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: AnnulKind = Field(description="``revoked`` (吊销) or ``cancelled`` (注销).")
    reason: str = Field(min_length=1, max_length=500)


class ShowCodeRequest(BaseModel):
    """亮证: the holder's system asks a code for one of the holder's licences."""

    model_config = ConfigDict(extra="forbid")

    identifier: str = Field(max_length=160, description="The licence to show.")
    holder_code: str = Field(max_length=64, description=_HOLDER)


class ShowRequest(BaseModel):
    """What the counter clerk types in: the holder's code and the six digits."""

    model_config = ConfigDict(extra="forbid")

    holder_code: str = Field(max_length=64, description=_HOLDER)
    code: str = Field(max_length=16, description="The six digits the holder shows.")
    file: bool = Field(False, description="The sealed file instead of the face data.")


def _entry(request: Request, entry: LibraryEntry) -> dict[str, Any]:
    """An entry as JSON with the URL of its file (which needs a purpose, like the entry)."""
    return {
        **entry.as_dict(),
        "file_url": public_url(request, "library_file", identifier=entry.identifier),
    }


def _file(entry: LibraryEntry, document: bytes) -> Response:
    media_type = OFD_MEDIA_TYPE if entry.format == LicenceFormat.OFD else "application/pdf"
    return Response(
        document,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{entry.identifier}.{entry.format}"',
            "X-Licence-Identifier": entry.identifier,
            "X-Licence-Status": entry.status,
        },
    )


_COLLECT_BODY = pdf_upload_body(
    "The sealed licence (multipart field ``file``, PDF or OFD) with the form fields "
    "``metadata`` (JSON object of GB/T 36903 elements: name, identifier, number, issuer_name, "
    "issue_date, holder_name, holder_code, valid_from, valid_until; optional type_code, "
    "issuer_code, holder_code_type) and ``face`` (optional JSON object: 照面信息 label → text).",
    other_fields=True,
    ofd=True,
)


@router.post(
    "/licences",
    status_code=201,
    summary="归集: push a licence sealed elsewhere into the library",
    openapi_extra={"requestBody": _COLLECT_BODY},
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
)
async def collect_licence(request: Request, caller: _Library) -> dict[str, Any]:
    """Verified on entry against the roots configured for the library (``sealctl library
    trust add``): anything but TOTAL_PASSED is refused with 422 and the report (``report``).
    A department pushes only licences it issued (its credit code is the identifier's issuer
    code)."""
    context = service_context(request)
    data, fields, is_ofd = await read_document_upload(request, context.settings.max_pdf_bytes)
    entry = await run_cpu_bound(
        request,
        collect.collect,
        context,
        caller.principal,
        data,
        is_ofd=is_ofd,
        metadata=fields.get("metadata"),
        face=fields.get("face"),
        details=caller.audit_details(request),
    )
    return _entry(request, entry)


@router.post(
    "/licences/{identifier}/annul",
    summary="Annul (吊销/注销) a collected licence",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def annul_licence(
    request: Request, identifier: str, body: AnnulRequest, caller: _Library
) -> dict[str, Any]:
    """For the issuing system that pushed it; licences sealsvc issued are annulled at
    ``/v1/licences/{number}/annul``."""
    entry = await run_in_threadpool(
        lambda: collect.annul_collected(
            service_context(request),
            caller.principal,
            identifier,
            kind=body.kind,
            reason=body.reason,
            details=caller.audit_details(request),
        )
    )
    return _entry(request, entry)


@router.post(
    "/lookup",
    summary="共享/用证: a holder's licences of one type, with their face data",
    responses=problem_responses(400, 401, 403, 422),
)
async def lookup(request: Request, body: LookupRequest, caller: _Library) -> dict[str, Any]:
    """The current version of each licence of ``type_code`` the holder has (issued here or
    collected), with its 照面信息.  403 unless the department is granted ``type_code``."""
    purpose = Purpose.of(body.purpose, body.item_code)
    found = await run_in_threadpool(
        lambda: sharing.lookup(
            service_context(request),
            caller.principal,
            holder=body.holder_code,
            type_code=body.type_code,
            purpose=purpose,
            details=caller.audit_details(request),
        )
    )
    return {"licences": [_entry(request, entry) for entry in found]}


_PURPOSE = Query(max_length=200, description="用证事由 (required).")
_ITEM = Query(max_length=64, description="事项编码 (required).")


@router.get(
    "/licences/{identifier}",
    summary="A licence's face data (照面信息)",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def face(
    request: Request,
    identifier: str,
    caller: _Library,
    purpose: Annotated[str | None, _PURPOSE] = None,
    item_code: Annotated[str | None, _ITEM] = None,
) -> dict[str, Any]:
    checked = Purpose.of(purpose, item_code)
    entry = await run_in_threadpool(
        lambda: sharing.face(
            service_context(request),
            caller.principal,
            identifier,
            purpose=checked,
            details=caller.audit_details(request),
        )
    )
    return _entry(request, entry)


@router.get(
    "/licences/{identifier}/file",
    name="library_file",
    response_class=Response,
    summary="Download a licence's sealed file",
    responses={
        200: {"description": "The sealed PDF or OFD, byte for byte as issued or collected."},
        **problem_responses(400, 401, 403, 404, 422),
    },
)
async def licence_file(
    request: Request,
    identifier: str,
    caller: _Library,
    purpose: Annotated[str | None, _PURPOSE] = None,
    item_code: Annotated[str | None, _ITEM] = None,
) -> Response:
    checked = Purpose.of(purpose, item_code)
    entry, document = await run_in_threadpool(
        lambda: sharing.licence_file(
            service_context(request),
            caller.principal,
            identifier,
            purpose=checked,
            details=caller.audit_details(request),
        )
    )
    return _file(entry, document)


@router.post(
    "/check",
    summary="核验: a licence's status, without its file",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def check(request: Request, body: CheckRequest, caller: _Library) -> dict[str, Any]:
    """``valid``, ``annulled``, ``superseded`` or ``expired``, by identifier or by number and
    holder code."""
    entry = await run_in_threadpool(
        lambda: sharing.check(
            service_context(request),
            caller.principal,
            identifier=body.identifier,
            number=body.number,
            holder=body.holder_code,
            details=caller.audit_details(request),
        )
    )
    return entry.status_dict()


@router.post(
    "/show-codes",
    status_code=201,
    summary="亮证: a one-time code for a counter clerk to see one licence",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def show_code(request: Request, body: ShowCodeRequest, caller: _Library) -> dict[str, Any]:
    """Six digits, valid five minutes, good for one showing; hand them to the holder."""
    issued = await run_in_threadpool(
        lambda: showcodes.issue_code(
            service_context(request),
            caller.principal,
            body.identifier,
            holder=body.holder_code,
            details=caller.audit_details(request),
        )
    )
    return {
        "code": issued.code,
        "identifier": issued.identifier,
        "expires_at": issued.expires_at.isoformat(),
    }


@router.post(
    "/show",
    summary="亮证: see the licence a holder's code names (no API key)",
    response_model=None,
    responses={
        200: {"description": "The face data (JSON), or the sealed file when ``file`` is true."},
        **problem_responses(400, 403, 422),
    },
)
async def show(request: Request, body: ShowRequest) -> dict[str, Any] | Response:
    """Once per code: a wrong, used, expired or locked code is 403 (wrong codes lock the
    holder's live codes after a few tries)."""
    client = request.client.host if request.client else ""
    shown = await run_in_threadpool(
        lambda: showcodes.show(
            service_context(request),
            holder=body.holder_code,
            code=body.code,
            with_file=body.file,
            client=client,
        )
    )
    if shown.file is not None:
        return _file(shown.entry, shown.file)
    return shown.entry.as_dict()


@router.get(
    "/changes",
    summary="Change feed: licences issued, re-issued, collected and annulled",
    responses=problem_responses(400, 401, 403, 422),
)
async def feed(
    request: Request,
    caller: _Library,
    since: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="The ``next`` of the last page; 0 first.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=changes.MAX_PAGE)] = 100,
) -> dict[str, Any]:
    """Changes to the licence types the department is granted, oldest first; ask again from
    ``next`` (a cursor that only grows)."""
    context = service_context(request)

    def page() -> dict[str, Any]:
        with context.database.session(read_only=True) as session:
            return changes.changes(session, caller.principal, since, limit).as_dict()

    return await run_in_threadpool(page)
