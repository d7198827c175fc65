"""Test PDFs built on the fly: Chinese licences of 1 or N pages and the awkward cases.

Sealing, verification and licence tests need realistic documents — CJK text in an embedded
TrueType font (WenQuanYi Zen Hei, as a Chinese office PDF would have), the phrase
"（盖章）" where the seal goes — and documents a sealing service must refuse or handle:
an empty signature field, an encrypted file, a broken cross-reference table, a
certified document whose DocMDP P=1 forbids any change (signed with the test PKI of
:mod:`pki_fixtures`).

Import as ``from helpers.pdf_fixtures import chinese_pdf`` (pytest puts ``tests/`` on ``sys.path``).
Every generator is deterministic (reportlab ``invariant=True``) and cached, so tests may
call them freely; treat the returned bytes as read-only.
"""

from __future__ import annotations

import functools
import io
import math
from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign import fields, signers
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from helpers.pki_fixtures import build_hierarchy
from pki.pdf_signer import KeyHandleSigner

__all__ = [
    "ANCHOR",
    "ANCHOR_POSITION_MM",
    "CJK_FONT",
    "EMPTY_FIELD",
    "certified_no_changes_pdf",
    "chinese_pdf",
    "encrypted_pdf",
    "pdf_with_broken_xref",
    "pdf_with_empty_field",
    "reportlab_seal_pdf",
]

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
"""Debian ``fonts-wqy-zenhei``; face 0 is WenQuanYi Zen Hei."""

ANCHOR = "（盖章）"
"""The phrase every generated licence prints where the seal belongs (on its last page)."""

ANCHOR_POSITION_MM = (150.0, 60.0)
"""Left end of the anchor's baseline on the last page, millimetres from the lower left."""

EMPTY_FIELD = "审批专用章"
"""Name of the empty signature field in :func:`pdf_with_empty_field`."""

_FONT_NAME = "WQYZenHei"


@functools.cache
def _register_font() -> str:
    pdfmetrics.registerFont(TTFont(_FONT_NAME, str(CJK_FONT), subfontIndex=0))
    return _FONT_NAME


@functools.cache
def chinese_pdf(pages: int = 1) -> bytes:
    """A Chinese administrative licence of ``pages`` A4 pages, anchor on the last page."""
    font = _register_font()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=True)
    canvas.setTitle("行政许可决定书")
    width, height = A4
    for number in range(1, pages + 1):
        canvas.setFont(font, 20)
        canvas.drawCentredString(width / 2, height - 40 * mm, "深圳市市场监督管理局")
        canvas.setFont(font, 16)
        canvas.drawCentredString(width / 2, height - 52 * mm, "行政许可决定书")
        canvas.setFont(font, 11)
        for line in range(24):
            canvas.drawString(
                25 * mm,
                height - (70 + line * 7) * mm,
                f"第{number}页 第{line + 1}行：申请人依法提交的材料齐全，符合法定形式，准予许可。",
            )
        if number == pages:
            x, y = ANCHOR_POSITION_MM
            canvas.setFont(font, 12)
            canvas.drawString(x * mm, (y + 12) * mm, "深圳市市场监督管理局")
            canvas.drawString(x * mm, y * mm, ANCHOR)
            canvas.drawString(x * mm, (y - 10) * mm, "二〇二五年六月一日")
        canvas.drawCentredString(width / 2, 12 * mm, f"— {number} / {pages} —")
        canvas.showPage()
    canvas.save()
    return out.getvalue()


@functools.cache
def pdf_with_empty_field() -> bytes:
    """The 1-page licence with an empty signature field :data:`EMPTY_FIELD` near the anchor."""
    writer = IncrementalPdfFileWriter(io.BytesIO(chinese_pdf(1)))
    x, y = (v * mm for v in ANCHOR_POSITION_MM)
    fields.append_signature_field(
        writer,
        fields.SigFieldSpec(
            sig_field_name=EMPTY_FIELD, on_page=0, box=(x - 20, y - 40, x + 100, y + 80)
        ),
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_media_box(box: str) -> bytes:
    """The 1-page licence whose page says ``/MediaBox [box]`` (hostile unless four numbers)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(chinese_pdf(1)))
    page = writer.root["/Pages"]["/Kids"][0]
    page["/MediaBox"] = generic.ArrayObject(
        generic.NameObject(value) if value.startswith("/") else generic.FloatObject(value)
        for value in box.split()
    )
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@functools.cache
def encrypted_pdf() -> bytes:
    """The 1-page licence encrypted with AES-256 (user password ``secret``)."""
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(chinese_pdf(1))))
    writer.encrypt("owner-secret", "secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@functools.cache
def pdf_with_broken_xref() -> bytes:
    """The 1-page licence whose xref offsets and ``startxref`` point into the void."""
    data = bytearray(chinese_pdf(1))
    start = data.rindex(b"startxref")
    xref = data.rindex(b"xref", 0, start)
    # Shift every 10-digit offset in the table and the startxref pointer by garbage.
    table = bytes(data[xref:start]).replace(b"0000", b"9999")
    return bytes(data[:xref]) + table + b"startxref\n99999999\n%%EOF\n"


@functools.cache
def reportlab_seal_pdf(diameter_mm: float = 42.0) -> bytes:
    """A plain red circle with a star as stamp artwork, for when no seal image is needed."""
    side = diameter_mm * mm
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(side, side), invariant=True)
    canvas.setStrokeColorRGB(0.85, 0.1, 0.1)
    canvas.setFillColorRGB(0.85, 0.1, 0.1)
    canvas.setLineWidth(side / 30)
    canvas.circle(side / 2, side / 2, side / 2 - side / 40, stroke=1, fill=0)
    star = canvas.beginPath()
    for i in range(10):
        r = side / 8 if i % 2 == 0 else side / 20
        angle = math.pi / 2 + i * math.pi / 5
        point = (side / 2 + r * math.cos(angle), side / 2 + r * math.sin(angle))
        (star.lineTo if i else star.moveTo)(*point)
    star.close()
    canvas.drawPath(star, stroke=0, fill=1)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


@functools.cache
def certified_no_changes_pdf(family: str = "rsa") -> bytes:
    """The 1-page licence certified by the test seal with DocMDP P=1: no change allowed."""
    hierarchy = build_hierarchy(family)
    signer = KeyHandleSigner(hierarchy.seal_key, hierarchy.seal, [hierarchy.issuing])
    meta = signers.PdfSignatureMetadata(
        field_name="Certification",
        md_algorithm=signer.digest_algorithm,
        subfilter=fields.SigSeedSubFilter.PADES,
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(chinese_pdf(1)))
    return signers.PdfSigner(meta, signer).sign_pdf(writer).getvalue()
