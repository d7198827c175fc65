"""The citizen verification page (Chinese, server-rendered, no JavaScript).

* ``GET /verify`` — an upload form (a plain multipart ``<form>``: works on any phone);
* ``POST /verify`` — the verdict in green / amber / red (never green for an annulled or
  superseded licence, whatever its seals say), each seal with its image (when it
  is one of ours), sealing organisation, Beijing time, integrity and the plain-Chinese
  sentence, the licence's registry status and the file's SHA-256 against the registered one;
  for an OFD also its first page as the file shows it, stamps included (rendered here with
  :mod:`ofd.raster`, sent inline as a ``data:`` PNG: the page keeps no state between
  requests, so any node of a cluster can serve it);
* ``GET /verify/{licence_no}?h=…`` — what the licence's QR code opens: the registry record
  (type, number, issuing authority, status, e-issue date) with the QR hash check, and a
  form to compare the citizen's own copy with the registered file.  Only when ``h``
  matches a version (the visitor holds its QR code) does it add what is printed on that
  version to match the paper by: holder, holder's code (masked), issue date as printed.
  For an OFD licence it then also links the file itself:
* ``GET /verify/{licence_no}/ofd?h=…`` — the sealed OFD of the version whose QR hash is
  ``h``, byte for byte as issued.  Whoever holds the code holds the printed licence, so
  the file tells them nothing new; without a matching ``h`` there is nothing to download.

The uploaded PDF is hostile — seal names come from its certificates — so every value
goes through Jinja2's autoescaping, and a Content-Security-Policy forbids scripts and
foreign resources outright.  Errors are pages too (400, 404, 413, 415), never JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pyhanko.sign.ades.report import AdESStatus
from starlette.concurrency import run_in_threadpool

from api.bodies import read_document_upload
from api.cpu_bound import run_cpu_bound
from api.state import service_context
from api.urls import public_url
from api.verify_routes import check_upload
from pki.clock import CHINA_TIME
from sealsvc.errors import InvalidInput, NotFound
from sealsvc.licences import LicenceStatusReport, get_licence_file, licence_status
from sealsvc.licences.identify import LicenceMatch
from sealsvc.licences.wording import status_label
from sealsvc.models import LicenceFormat
from sealsvc.verification.ofd import face_data_url, render_face
from sealsvc.verification.report import DocumentVerdict, SignatureReport
from sealsvc.verification.sentence import beijing_time, proven_by_later_timestamp
from sealsvc.verification.service import DocumentCheck

__all__ = ["router"]

router = APIRouter(prefix="/verify", tags=["citizen page"], include_in_schema=False)

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self' data:; "
    "style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_VERDICTS = {
    DocumentVerdict.TOTAL_PASSED: ("ok", "✓", "验证通过"),
    DocumentVerdict.INDETERMINATE: ("warn", "?", "无法确认"),
    DocumentVerdict.TOTAL_FAILED: ("bad", "✗", "验证失败"),
    DocumentVerdict.NOT_SIGNED: ("warn", "?", "未加盖电子印章"),
}
_INDICATIONS = {
    AdESStatus.PASSED: ("ok", "有效"),
    AdESStatus.INDETERMINATE: ("warn", "无法确认"),
    AdESStatus.FAILED: ("bad", "无效"),
}
_LICENCE_TONES = {"valid": "ok", "annulled": "bad", "superseded": "warn"}
_ERRORS = {
    400: ("无法处理该请求", "请求有误，请返回验证首页重新选择 PDF 文件。"),
    404: ("未找到该证照", "登记系统中没有此编号的电子证照，请核对二维码或编号。"),
    413: ("文件过大", "上传的文件超过了大小限制，请上传不超过 {max_mb} MB 的 PDF 或 OFD 文件。"),
    415: ("请选择 PDF 或 OFD 文件", "请通过页面上的表单选择 PDF 或 OFD 文件后再提交。"),
}


def _max_mb(request: Request) -> str:
    return f"{service_context(request).settings.max_pdf_bytes / 1024 / 1024:g}"


def _page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = _templates.get_template(template).render(max_mb=_max_mb(request), **values)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _error(request: Request, status: int, message: str | None = None) -> HTMLResponse:
    heading, default = _ERRORS.get(status, _ERRORS[400])
    return _page(
        request,
        "error.html",
        status,
        page_title=heading,
        heading=heading,
        message=message or default.format(max_mb=_max_mb(request)),
        tone="warn" if status == 404 else "bad",
        show_form=status in (413, 415),
    )


def _seal_view(s: SignatureReport) -> dict[str, Any]:
    tone, label = _INDICATIONS[s.indication]
    signer = s.signer
    timestamp = s.kind == "document_timestamp"
    if s.best_signature_time and proven_by_later_timestamp(s):
        time = f"不晚于 {beijing_time(s.best_signature_time)}（由其后加盖的可信时间戳证明）"
    elif s.best_signature_time:
        time = beijing_time(s.best_signature_time) + "（可信时间戳）"
    elif s.claimed_signing_time and timestamp:  # a token that failed proves nothing
        time = beijing_time(s.claimed_signing_time) + "（时间戳无效，该时间未经证明）"
    elif s.claimed_signing_time:
        time = beijing_time(s.claimed_signing_time) + "（签章方自报，无时间戳证明）"
    else:
        time = "未知"
    person = s.person  # a personal signature: the person masked, never a seal's words
    applied = "加盖时间戳后" if timestamp else ("签名后" if person else "盖章后")
    if s.integrity is None:
        intact, intact_tone = "无法检查", "bad"
    elif (
        s.integrity.digest_matches
        and s.integrity.signature_valid
        and (s.modifications is None or s.modifications.allowed)
    ):
        intact, intact_tone = applied + "未被篡改", "ok"
    else:
        intact, intact_tone = applied + "已被篡改", "bad"
    if signer is None:
        name, organisation = "无法识别的印章", "未知"
    elif person is not None:
        name = f"{person.name}（{person.role}）" if person.role else person.name
        organisation = signer.organization or "个人"
    else:
        name = signer.common_name or signer.organization or signer.subject
        # The OU names the department holding the seal; the O its government.
        organisation = signer.organizational_unit or signer.organization or signer.subject
    return {
        "kind": s.kind,
        "name": "可信时间戳" if timestamp else name,
        "organisation": organisation,
        "tone": tone,
        "label": label,
        "time": time,
        "intact": intact,
        "intact_tone": intact_tone,
        "sentence": s.sentence,
        "person": None
        if person is None
        else {"certificate": "事件型证书" if person.certificate == "event" else "个人长期证书"},
        "image_url": f"/v1/seals/{s.registry.seal_code}/image.png"
        if s.registry and not timestamp
        else None,
    }


def _licence_view(match: LicenceMatch) -> dict[str, Any]:
    registry = match.registry
    return {
        "title": registry.title,
        "number": registry.number,
        "issuer": registry.issuer,
        "tone": _LICENCE_TONES.get(match.status, "warn"),
        "status_label": status_label(match.status, match.annul_kind),
        "status_reason": registry.status_reason if match.status == "annulled" else None,
        "version": match.version,
        "latest_version": registry.latest_version,
        "document_matches": match.document_matches,
        "registered_sha256": match.registered_sha256,
        "identifier": match.identifier,
    }


def _headline(result: DocumentCheck) -> tuple[str, str, str]:
    """(tone, mark, title): the seals' verdict, unless the registry has ended the licence.

    Valid seals on an annulled or superseded licence are not a green "验证通过": the
    headline names what became of the licence, and the sentence under it says when.
    """
    licence = result.licence
    if result.report.passed and licence is not None and licence.sentence is not None:
        tone = _LICENCE_TONES.get(licence.status, "warn")
        return (
            tone,
            "✗" if tone == "bad" else "!",
            "证照" + status_label(licence.status, licence.annul_kind),
        )
    return _VERDICTS[result.report.verdict]


def _result(request: Request, result: DocumentCheck, face: bytes | None = None) -> HTMLResponse:
    report = result.report
    tone, mark, title = _headline(result)
    return _page(
        request,
        "result.html",
        page_title=title,
        verdict={"tone": tone, "mark": mark, "title": title, "sentence": result.conclusion},
        report=report,
        seals=[_seal_view(s) for s in report.signatures],
        licence=_licence_view(result.licence) if result.licence else None,
        validated_at=beijing_time(report.validation_time),
        face_url=face_data_url(face) if face else None,
    )


@router.get("", response_class=HTMLResponse)
async def form(request: Request) -> HTMLResponse:
    """The upload form."""
    return _page(request, "verify.html", page_title="验证电子文件")


@router.post("", response_class=HTMLResponse)
async def verify(request: Request) -> HTMLResponse:
    """Verify the uploaded PDF (and compare it with licence ``licence_no`` when given)."""
    try:
        pdf, fields, ofd = await read_document_upload(
            request, service_context(request).settings.max_pdf_bytes
        )
    except HTTPException as exc:
        return _error(request, exc.status_code if exc.status_code in _ERRORS else 400)
    number = fields.get("licence_no") or None
    try:
        result = await check_upload(request, pdf, number, ofd=ofd)
    except InvalidInput:
        return _error(request, 400, "证照编号格式不正确。")
    except NotFound:
        return _error(request, 404)
    face = await run_cpu_bound(request, render_face, pdf) if ofd else None
    return _result(request, result, face)


@router.get("/{licence_no}/ofd", name="licence_page_ofd", response_model=None)
async def licence_ofd(request: Request, licence_no: str, h: str = "") -> Response:
    """The sealed OFD of the version whose QR hash is ``h`` (an error page otherwise).

    Registered before the licence page, whose path parameter would match this URL too.
    """
    context = service_context(request)

    def read() -> bytes | None:
        with context.database.session(read_only=True) as session:
            status = licence_status(session, licence_no, h or None, settings=context.settings)
        if status.presented_version is None or status.format != LicenceFormat.OFD:
            return None
        return get_licence_file(
            context, licence_no, status.presented_version, expected=LicenceFormat.OFD
        )

    try:
        document = await run_in_threadpool(read)
    except InvalidInput:
        return _error(request, 400, "证照编号格式不正确，请核对二维码。")
    except NotFound:
        return _error(request, 404)
    if document is None:
        return _error(request, 404, "没有与该二维码对应的 OFD 电子证照文件，请核对二维码。")
    return Response(
        document,
        media_type="application/ofd",
        headers={
            **_HEADERS,
            "Content-Disposition": f'attachment; filename="{licence_no}.ofd"',
        },
    )


@router.get("/{licence_no:path}", response_class=HTMLResponse)
async def licence_page(request: Request, licence_no: str, h: str | None = None) -> HTMLResponse:
    """What the QR code opens: the registry record, the QR hash check, a compare form.

    The number is matched as a path so that one with slashes gets the 400 page too.
    """
    context = service_context(request)

    def read() -> LicenceStatusReport:
        with context.database.session(read_only=True) as session:
            return licence_status(session, licence_no, h or None, settings=context.settings)

    try:
        status = await run_in_threadpool(read)
    except InvalidInput:
        return _error(request, 400, "证照编号格式不正确，请核对二维码。")
    except NotFound:
        return _error(request, 404)
    label = status_label(status.status, status.annul_kind)
    if status.hash_matches is False:
        tone, mark, heading = "bad", "✗", "核验失败"
    elif status.status == "annulled":
        tone, mark, heading = "bad", "✗", "证照" + label
    elif status.presented_version in (None, status.latest_version):
        tone, mark, heading = "ok", "✓", "证照有效"
    else:
        tone, mark, heading = "warn", "!", "证照已变更"
    e_issued = status.presented_issued_at or status.issued_at
    download_url = None
    if status.hash_matches and status.format == LicenceFormat.OFD:
        download_url = public_url(request, "licence_page_ofd", licence_no=status.number)
        download_url += f"?h={h}"
    return _page(
        request,
        "licence.html",
        page_title=f"{status.title} {status.number}",
        record=status,
        status_tone=_LICENCE_TONES.get(status.status, "warn"),
        status_label=label,
        tone=tone,
        mark=mark,
        heading=heading,
        e_issued=e_issued.astimezone(CHINA_TIME).strftime("%Y年%m月%d日"),
        download_url=download_url,
    )
