"""A rendered licence's streams are plain Flate (no ASCII85 layer), its PDF/A claim holds,
and reportlab's global ASCII85 switch is left as it was found."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from reportlab import rl_config
from reportlab.pdfgen.canvas import Canvas

from sealsvc.archive.pdfa_check import check_pdfa
from sealsvc.licences import LicencePage, QrCode, load_template, render_licence
from sealsvc.licences import render as render_module

ISSUED = datetime(2024, 3, 15, 2, 30, tzinfo=UTC)


def _rendered() -> bytes:
    template = load_template("business_licence")
    qr = QrCode.encode("https://zwfw.zhengzhou.example/verify/YYZZ2024031512345678?h=1")
    page = LicencePage(
        "YYZZ2024031512345678", 1, template.validate_data(template.example), qr, ISSUED
    )
    return render_licence(template, page)


def test_a_rendered_licence_has_no_ascii85_streams_and_keeps_its_pdfa_claim() -> None:
    pdf = _rendered()
    assert b"ASCII85Decode" not in pdf
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    page = reader.root["/Pages"]["/Kids"][0]
    content = page["/Contents"]
    assert content["/Filter"] in ("/FlateDecode", ["/FlateDecode"])
    assert b" Tf" in content.data and b"BT" in content.data  # decodes to the page's text
    report = check_pdfa(pdf)
    assert report.claim == "PDF/A-2B" and report.problems == () and report.conforms
    assert _rendered() == pdf  # still deterministic


def test_the_global_switch_is_restored_even_when_rendering_fails() -> None:
    before = rl_config.useA85
    assert before  # reportlab's default: other writers keep ASCII85
    _rendered()
    assert rl_config.useA85 == before
    with pytest.raises(RuntimeError), render_module._flate_only():
        assert rl_config.useA85 == 0
        raise RuntimeError("painting failed")
    assert rl_config.useA85 == before


def test_other_reportlab_documents_keep_reportlabs_default() -> None:
    """Only the licence renderer turns ASCII85 off, and only while it renders."""
    _rendered()
    out = io.BytesIO()
    canvas = Canvas(out, invariant=True, pageCompression=1)
    canvas.drawString(100, 100, "x")
    canvas.showPage()
    canvas.save()
    reader = PdfFileReader(io.BytesIO(out.getvalue()), strict=False)
    filters = reader.root["/Pages"]["/Kids"][0]["/Contents"]["/Filter"]
    assert generic.NameObject("/ASCII85Decode") in filters
