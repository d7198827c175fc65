"""Version 1 of the API for approval systems: seal a PDF, verify, seal directory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.auth import Caller, require_scope
from api.bodies import read_pdf_upload
from api.metrics import SEALS_APPLIED
from sealsvc.errors import InvalidInput
from sealsvc.pades import Level, Placement, SealOptions

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["v1"])


def _float(value: str | None, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a number") from None


def _options(params: dict[str, str]) -> SealOptions:
    try:
        level = Level(params.get("level") or "B-T")
    except ValueError:
        raise InvalidInput("level must be one of B-B, B-T, B-LT, B-LTA") from None
    page = params.get("page") or "1"
    if not page.isdigit():
        raise InvalidInput("page must be a positive integer")
    placement = Placement(
        page=int(page),
        x_mm=_float(params.get("x_mm"), "x_mm"),
        y_mm=_float(params.get("y_mm"), "y_mm"),
        anchor=params.get("anchor") or None,
        field=params.get("field") or None,
        invisible=(params.get("invisible") or "").lower() in ("1", "true", "yes"),
    )
    return SealOptions(
        level=level,
        placement=placement,
        reason=params.get("reason") or None,
        location=params.get("location") or None,
        contact=params.get("contact") or None,
        certify=(params.get("certify") or "").lower() in ("1", "true", "yes"),
    )


@router.post(
    "/seals/{code}/sign",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The sealed PDF."}},
)
async def sign(
    request: Request,
    code: str,
    caller: Annotated[Caller, Depends(require_scope("sign"))],
    level: Annotated[str | None, Query(description="B-B, B-T (default), B-LT, B-LTA")] = None,
) -> Response:
    """Seal the uploaded PDF (multipart field ``file`` or raw application/pdf body).

    Options come as query parameters or form fields: ``level``, ``page``, ``x_mm``,
    ``y_mm``, ``anchor``, ``field``, ``invisible``, ``certify``, ``reason``, ``location``,
    ``contact``.
    """
    context = request.app.state.context
    pdf, fields = await read_pdf_upload(request, context.settings.max_pdf_bytes)
    params = {**dict(request.query_params), **fields}
    options = _options(params)
    await run_in_threadpool(caller.check_seal, context, code)
    result = await run_in_threadpool(
        request.app.state.sealer.seal,
        pdf,
        code,
        options,
        actor=caller.actor,
        details={"client": request.client.host if request.client else "", "api_key": caller.key_id},
    )
    SEALS_APPLIED.labels(level=result.level).inc()
    return Response(
        result.pdf,
        media_type="application/pdf",
        headers={
            "X-Seal-Code": result.seal_code,
            "X-Document-SHA256": result.output_sha256,
            "X-Audit-Seq": str(result.audit_seq),
        },
    )
