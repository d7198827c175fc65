"""The signature pad: signing requests for platforms, and the page where a person signs.

* ``POST /v1/signatures/requests`` (API key, scope ``signature``) — the document (``file``,
  PDF or OFD), the person's ``id_token`` (verified at once), placement, ``level`` and ``role`` →
  ``{request_id, sign_url, expires_at}``; ``GET …/{id}`` the status, ``GET …/{id}/document``
  the signed document once signed, ``DELETE …/{id}`` withdraws a pending request.
* ``GET /sign/{id}`` — the pad (Chinese, mobile-first): who is asked to sign (masked), the
  first page of the document, a canvas drawn with pointer events (touch, pen, mouse),
  clear, confirm, and the saved signature to reuse.  ``POST /sign/{id}`` signs
  (:func:`sealsvc.signing_requests.sign`), then the page offers the signed file.

The request id is the capability, so the page needs no login; a POST whose ``Origin`` is
not this service is refused (a foreign page cannot make the person's browser sign).  The
page's one script is inline under a per-response CSP nonce; nothing is loaded from
elsewhere.  Errors are pages: 404 for an unknown request, 410 for a used, cancelled or
expired one, 400 for a blank or bad drawing (the pad again, with the reason), never a 500
for bad input.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.auth import Caller, require_scope
from api.bodies import pdf_upload_body, read_body, read_document_upload
from api.cpu_bound import run_cpu_bound
from api.problems import log_fault, problem_responses
from api.signature_routes import SignatureOptions
from api.state import service_context, trust_services
from api.urls import public_url
from api.v1 import HTTP_NAMES
from ofd.package import is_ofd
from sealsvc import signing_requests
from sealsvc.errors import Conflict, InvalidInput, NotFound, SealsvcError
from sealsvc.identity import mask_name, verify_id_token
from sealsvc.models import SigningRequest
from sealsvc.ofd_sealing import MEDIA_TYPE as OFD_MEDIA_TYPE
from sealsvc.signature_images import MAX_IMAGE_BYTES, BlankSignature
from sealsvc.signing_requests import RequestGone, RequestOptions
from sealsvc.verification.sentence import beijing_time

__all__ = ["api_router", "page_router"]

api_router = APIRouter(prefix="/v1/signatures/requests", tags=["signatures"])
page_router = APIRouter(prefix="/sign", tags=["signature pad"], include_in_schema=False)

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_FORM_LIMIT = MAX_IMAGE_BYTES * 4 // 3 + 4096
"""Largest pad submission: the drawing as a base64 data URL, and a few short fields."""
_DATA_URL = "data:image/png;base64,"
_BLANK = "签名为空：请先在框内写下您的签名。"
_ERRORS = {
    400: ("无法签名", "提交的签名无法使用，请返回重新签写。"),
    403: ("请求被拒绝", "该签名请求只能在本服务的签名页面上完成。"),
    404: ("签名请求不存在", "没有找到该签名请求，请从办理系统重新打开签名链接。"),
    410: ("签名链接已失效", "该签名请求已完成、已撤销或已过期，请回到办理系统重新发起签名。"),
    500: ("服务暂时出错", "签名未能完成，请稍后重试。"),
}


def _headers(nonce: str | None = None) -> dict[str, str]:
    script = f"script-src 'nonce-{nonce}'" if nonce else "script-src 'none'"
    return {
        "Content-Security-Policy": f"default-src 'none'; img-src 'self'; {script}; "
        "style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        # Not no-referrer: under it a browser sends "Origin: null" with the form's POST,
        # and the Origin check could not tell the pad from a foreign page.  Same-origin
        # still keeps the capability URL from leaking to any other site.
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def _html(
    template: str, status: int = 200, nonce: str | None = None, **values: Any
) -> HTMLResponse:
    html = _templates.get_template(template).render(nonce=nonce, **values)
    return HTMLResponse(html, status_code=status, headers=_headers(nonce))


def _error(status: int, message: str | None = None) -> HTMLResponse:
    heading, default = _ERRORS.get(status, _ERRORS[400])
    return _html(
        "sign_error.html",
        status,
        page_title=heading,
        heading=heading,
        message=message or default,
        tone="warn" if status in (404, 410) else "bad",
    )


def _page_error(request: Request, exc: SealsvcError) -> HTMLResponse:
    """The page for a domain error: its status when 4xx; a logged fault with an id when not."""
    if exc.status >= 500:
        fault_id = log_fault(request, exc)
        return _error(500, f"签名未能完成，请稍后重试（故障编号 {fault_id}）。")
    if isinstance(exc, RequestGone | NotFound):
        return _error(exc.status)
    return _error(exc.status if exc.status in _ERRORS else 400, f"签名未能完成：{exc}")


# --- the platform's API --------------------------------------------------------------------


def _options(fields: dict[str, str]) -> RequestOptions:
    """The options of ``POST /v1/signatures`` (the same names, the same checks)."""
    try:
        parsed = SignatureOptions.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    return RequestOptions(parsed.placement(), parsed.level, parsed.role, parsed.hierarchy)


def _request_body(request: Request, row: SigningRequest) -> dict[str, Any]:
    body = signing_requests.request_dict(row)
    body["sign_url"] = public_url(request, "sign_page", request_id=row.id)
    if body["status"] == "signed":
        body["document_url"] = public_url(request, "signing_request_document", request_id=row.id)
    return body


@api_router.post(
    "",
    status_code=201,
    summary="Ask a person to sign a PDF or an OFD on the signature pad",
    openapi_extra={
        "requestBody": pdf_upload_body(
            "Multipart: ``file`` (the PDF or OFD), ``id_token`` (the person's ID token from the "
            "platform's login), and the fields of ``POST /v1/signatures`` (``role``, "
            "placement, ``level``, ``hierarchy``).",
            other_fields=True,
            ofd=True,
        )
    },
    responses=problem_responses(400, 401, 403, 413, 415, 422, 429, 500),
)
async def create_request(
    request: Request, caller: Annotated[Caller, Depends(require_scope("signature"))]
) -> dict[str, Any]:
    """Verify the person's ID token now, store the document, and return the pad's URL.

    The person opens ``sign_url`` (no login: the id is the capability) before
    ``expires_at`` — ten minutes, or the token's own expiry if sooner — and signs once.
    """
    context = service_context(request)
    document, fields, _ = await read_document_upload(request, context.settings.max_pdf_bytes)
    token = fields.get("id_token", "").strip()
    if not token:
        raise InvalidInput("the form field 'id_token' is required: the person's ID token")
    options = _options(fields)

    def create() -> dict[str, Any]:
        identity = verify_id_token(context, token, actor=caller.actor)
        with context.database.session() as session:
            row = signing_requests.create(
                session, document, identity, options, api_key_id=caller.key_id, actor=caller.actor
            )
            return _request_body(request, row)

    return await run_in_threadpool(create)


def _admin(caller: Caller) -> bool:
    return "admin" in caller.principal.scopes


@api_router.get(
    "/{request_id}",
    summary="A signing request's status",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_request(
    request: Request,
    request_id: str,
    caller: Annotated[Caller, Depends(require_scope("signature"))],
) -> dict[str, Any]:
    """``pending``, ``signed`` (with ``document_url``), ``expired`` or ``cancelled``."""
    context = service_context(request)

    def read() -> dict[str, Any]:
        with context.database.session(read_only=True) as session:
            row = signing_requests.for_platform(
                session, request_id, api_key_id=caller.key_id, admin=_admin(caller)
            )
            return _request_body(request, row)

    return await run_in_threadpool(read)


@api_router.get(
    "/{request_id}/document",
    name="signing_request_document",
    response_class=Response,
    summary="The signed document of a signed request",
    responses={
        200: {
            "content": {"application/pdf": {}, OFD_MEDIA_TYPE: {}},
            "description": "The signed PDF or OFD.",
        },
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def get_document(
    request: Request,
    request_id: str,
    caller: Annotated[Caller, Depends(require_scope("signature"))],
) -> Response:
    """The signed PDF or OFD; 409 while the request is not signed."""
    context = service_context(request)

    def read() -> bytes:
        with context.database.session(read_only=True) as session:
            row = signing_requests.for_platform(
                session, request_id, api_key_id=caller.key_id, admin=_admin(caller)
            )
            if row.result is None:
                status = signing_requests.effective_status(row).value
                raise Conflict(f"the request is {status}, not signed")
            return row.result

    document = await run_in_threadpool(read)
    return Response(document, media_type=_media_type(document))


@api_router.delete(
    "/{request_id}",
    status_code=204,
    summary="Withdraw a pending signing request",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def cancel_request(
    request: Request,
    request_id: str,
    caller: Annotated[Caller, Depends(require_scope("signature"))],
) -> Response:
    """The pad then answers 410; the stored document is dropped."""
    context = service_context(request)

    def cancel() -> None:
        with context.database.session() as session:
            signing_requests.cancel(
                session, request_id, api_key_id=caller.key_id, admin=_admin(caller),
                actor=caller.actor,
            )  # fmt: skip

    await run_in_threadpool(cancel)
    return Response(status_code=204)


# --- the person's page ---------------------------------------------------------------------


async def _pending(request: Request, request_id: str) -> tuple[SigningRequest, bytes | None]:
    """The pending request and its person's saved signature (404/410 errors otherwise)."""
    context = service_context(request)

    def read() -> tuple[SigningRequest, bytes | None]:
        with context.database.session(read_only=True) as session:
            row = signing_requests.open_for_person(session, request_id)
            return row, signing_requests.saved_image(session, row)

    return await run_in_threadpool(read)


def _pad(
    request: Request,
    row: SigningRequest,
    saved: bytes | None,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    """The pad page, with ``error`` (a refused drawing) above the buttons."""
    options = RequestOptions.from_json(row.options, HTTP_NAMES)
    return _html(
        "sign.html",
        status,
        nonce=secrets.token_urlsafe(16),
        page_title="请您签名",
        name=mask_name(row.name),
        id_masked=row.id_masked,
        role=options.role,
        expires=beijing_time(row.expires_at),
        preview_url=request.app.url_path_for("sign_preview", request_id=row.id),
        saved_url=request.app.url_path_for("sign_saved", request_id=row.id) if saved else None,
        error=error,
    )


@page_router.get("/{request_id}", name="sign_page", response_class=HTMLResponse)
async def pad_page(request: Request, request_id: str) -> HTMLResponse:
    """The pad for a pending request; 404/410 pages otherwise."""
    try:
        row, saved = await _pending(request, request_id)
    except SealsvcError as exc:
        return _page_error(request, exc)
    return _pad(request, row, saved)


def _png(data: bytes) -> Response:
    return Response(data, media_type="image/png", headers=_headers())


@page_router.get("/{request_id}/page.png", name="sign_preview")
async def preview(request: Request, request_id: str) -> Response:
    """The document's first page, for the person to see what they sign."""
    try:
        row, _ = await _pending(request, request_id)
        png = await run_cpu_bound(request, signing_requests.preview_png, row.document)
    except SealsvcError as exc:
        return _page_error(request, exc)
    return _png(png)


@page_router.get("/{request_id}/saved.png", name="sign_saved")
async def saved(request: Request, request_id: str) -> Response:
    """The person's saved signature, shown beside the 'use it' button."""
    try:
        _, image = await _pending(request, request_id)
    except SealsvcError as exc:
        return _page_error(request, exc)
    return _png(image) if image else _error(404)


def _same_origin(request: Request) -> bool:
    """No ``Origin`` (not a browser's cross-site POST), or this service's own origin."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    ours = {
        service_context(request).settings.base_url,
        f"{request.url.scheme}://{request.url.netloc}",
    }
    return origin in {f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" for url in ours}


async def _drawing(request: Request) -> bytes | None:
    """The drawn PNG from the form, or ``None`` when the saved signature was chosen."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise InvalidInput("submit the signature through the pad's form")
    try:
        body = await read_body(request, _FORM_LIMIT)
    except HTTPException as exc:
        raise InvalidInput("签名图像过大") from exc
    try:
        fields = parse_qs(body.decode("ascii"), max_num_fields=4)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("the form is malformed") from None
    if fields.get("use_saved") == ["1"]:
        return None
    value = (fields.get("signature") or [""])[0]
    if not value.startswith(_DATA_URL):
        raise InvalidInput(_BLANK)
    try:
        return base64.b64decode(value[len(_DATA_URL) :], validate=True)
    except binascii.Error:
        raise InvalidInput("the signature is not a base64 PNG") from None


@page_router.post("/{request_id}", response_class=HTMLResponse)
async def sign(request: Request, request_id: str) -> HTMLResponse:
    """Sign with the drawing (or the saved signature); the done page, or the pad again."""
    actor = f"pad:{signing_requests.request_ref(request_id)}"
    client = {"client": request.client.host if request.client else ""}
    if not _same_origin(request):
        origin = {**client, "origin": request.headers.get("origin", "")[:200]}
        await run_in_threadpool(
            signing_requests.record_refusal, service_context(request), request_id,
            "the form was posted from another site", actor=actor, details=origin,
        )  # fmt: skip
        return _error(403)
    try:
        row, saved_png = await _pending(request, request_id)
    except RequestGone as exc:
        await run_in_threadpool(
            signing_requests.record_refusal, service_context(request), request_id, str(exc),
            actor=actor, details=client,
        )  # fmt: skip
        return _page_error(request, exc)
    except SealsvcError as exc:
        return _page_error(request, exc)
    try:
        drawn = await _drawing(request)
    except InvalidInput as exc:
        return _pad(request, row, saved_png, 400, str(exc))
    try:
        await run_cpu_bound(
            request,
            signing_requests.sign,
            service_context(request),
            request_id,
            drawn_png=drawn,
            actor=actor,
            names=HTTP_NAMES,
            trust=trust_services(request),
        )
    except BlankSignature:
        return _pad(request, row, saved_png, 400, _BLANK)
    except InvalidInput as exc:
        return _pad(request, row, saved_png, 400, f"签名未能完成（{exc}），请重新签写。")
    except SealsvcError as exc:
        return _page_error(request, exc)
    return _html(
        "sign_done.html",
        page_title="签名完成",
        name=mask_name(row.name),
        download_url=request.app.url_path_for("sign_download", request_id=request_id),
    )


@page_router.get("/{request_id}/signed.pdf", name="sign_download")
async def download(request: Request, request_id: str) -> Response:
    """The signed document, for the person, for a while after signing."""
    context = service_context(request)

    def read() -> bytes:
        with context.database.session(read_only=True) as session:
            return signing_requests.signed_result(session, request_id)

    try:
        document = await run_in_threadpool(read)
    except SealsvcError as exc:
        return _page_error(request, exc)
    name = "signed.ofd" if is_ofd(document) else "signed.pdf"
    return Response(
        document,
        media_type=_media_type(document),
        headers={**_headers(), "Content-Disposition": f'attachment; filename="{name}"'},
    )


def _media_type(document: bytes) -> str:
    return OFD_MEDIA_TYPE if is_ofd(document) else "application/pdf"
