"""Licences as OFD: the same layout as the PDF, read back by us and rendered by easyofd.

* every template's OFD shows every value (read back with :mod:`ofd.reader`), every font
  embedded, the same metadata as the PDF, and the text where the PDF has it (positions
  compared with poppler's ``pdftotext -bbox`` on the PDF of the same licence);
* easyofd (an independent OFD library from PyPI, which converts OFD to PDF with reportlab
  and rasterises it with PyMuPDF) renders our OFD to a PNG with ink where the text is;
* sealed with a real SES_Signature (ofd-sign's container, the SES test seal), the licence
  passes ofdrw's ``ofd_check`` (skipped, saying why, where ../shared/ofdrw is absent) and
  easyofd shows the seal picture where the template puts the first seal.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from dataclasses import astuple
from datetime import date
from pathlib import Path

import pytest
from helpers.licence_ofd_render import (
    NUMBER,
    easyofd_png,
    first_seal_box,
    licence_page,
    seal_red_pixels,
    template_licence_ofd,
)
from helpers.ofd_check import OFD_CHECK, needs_ofd_check
from helpers.ofd_documents import PROVIDER
from helpers.ses_fixtures import SesSigner, sm2
from PIL import Image

from ofd.model import PathObject, TextObject
from ofd.package import OfdPackage
from ofd.reader import read_ofd
from ofd.signatures import StampPlacement, add_signature
from sealsvc.errors import InvalidInput
from sealsvc.licences import (
    load_template,
    render_licence,
)
from sealsvc.licences.layout import lay_out
from sealsvc.licences.render_ofd import render_licence_ofd
from sealsvc.licences.templates import IDENTIFIER_FIELD

TEMPLATES = ["admin_permit_decision", "business_licence", "construction_permit",
             "real_estate_certificate"]  # fmt: skip
PAGE = "Doc_0/Pages/Page_0/Content.xml"


@pytest.mark.parametrize("name", TEMPLATES)
def test_ofd_licence_shows_every_value_with_embedded_fonts(name: str) -> None:
    data, page = template_licence_ofd(name)
    template = load_template(name)
    document = read_ofd(data)
    assert document.warnings == ()
    (ofd_page,) = document.pages
    assert (ofd_page.width, ofd_page.height) == (
        pytest.approx(template.spec.page.width_mm),
        pytest.approx(template.spec.page.height_mm),
    )
    texts = [o for o in ofd_page.objects if isinstance(o, TextObject)]
    joined = "".join(o.text for o in texts)
    for key, shown in template.display(page.data).items():
        assert re.sub(r"\s+", "", shown) in re.sub(r"\s+", "", joined), key
    assert NUMBER in joined
    if any(getattr(e, "field", None) == IDENTIFIER_FIELD for e in template.spec.elements):
        assert page.identifier in joined
    for text in texts:
        assert text.font.data, f"font of {text.text!r} not embedded"
        assert len(text.delta_x) == len(text.text) - 1
    families = {t.font.family for t in texts}
    assert families <= {"AR PL UMing CN", "WenQuanYi Zen Hei"}, families
    paths = [o for o in ofd_page.objects if isinstance(o, PathObject)]
    assert any(p.fill == (0, 0, 0) and p.data.count("M") > 50 for p in paths), "QR modules"


def test_ofd_carries_the_pdf_metadata_and_the_licence_metadata_as_custom_data() -> None:
    data, page = template_licence_ofd("business_licence")
    template = load_template("business_licence")
    layout = lay_out(template, page)
    info = read_ofd(data).info
    assert info.doc_id == uuid.UUID(layout.document_id).hex
    assert (info.title, info.author, info.subject) == (
        layout.title,
        layout.author,
        layout.subject,
    )
    assert info.creation_date == date(2024, 3, 15)
    assert info.keywords == ("business_licence", NUMBER)
    assert info.custom_datas == tuple(page.metadata.pairs())
    assert ("证照标识", page.identifier) in info.custom_datas
    assert render_licence_ofd(template, page) == data


def test_text_is_where_the_pdf_has_it(tmp_path: Path) -> None:
    template = load_template("business_licence")
    page = licence_page("business_licence", template.validate_data(template.example))
    pdf = tmp_path / "licence.pdf"
    pdf.write_bytes(render_licence(template, page))
    html = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    words = {
        m.group(5): (float(m.group(1)), float(m.group(2)), float(m.group(4)))
        for m in re.finditer(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]+)</word>',
            html,
        )
    }
    document = read_ofd(render_licence_ofd(template, page))
    checked = 0
    for text in (o for o in document.pages[0].objects if isinstance(o, TextObject)):
        if text.text not in words:
            continue
        x_min, y_min, y_max = (v * 25.4 / 72 for v in words[text.text])
        baseline = text.boundary.y + text.y
        assert text.boundary.x + text.x == pytest.approx(x_min, abs=0.3), text.text
        assert y_min < baseline < y_max + 0.3, text.text
        checked += 1
    assert checked >= 5, words.keys()


def test_text_too_long_for_its_box_is_refused_for_ofd_too() -> None:
    template = load_template("construction_permit")
    data = template.validate_data({**template.example, "builder": "郑州地铁集团有限公司" * 8})
    with pytest.raises(InvalidInput, match=r"建设单位 \(builder\) does not fit its box"):
        render_licence_ofd(template, licence_page("construction_permit", data))


def _ink(image: Image.Image, box: tuple[float, float, float, float], page_mm: float) -> int:
    """Dark pixels inside ``box`` (x, y, width, height in mm from the upper left)."""
    scale = image.width / page_mm
    x, y, w, h = (round(v * scale) for v in box)
    region = image.convert("L").crop((x, y, x + w, y + h))
    return sum(region.histogram()[:128])


def test_easyofd_renders_our_licence_with_its_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, _ = template_licence_ofd("business_licence")
    image = easyofd_png(data, tmp_path, monkeypatch)
    image.save(tmp_path / "easyofd.png")
    assert image.width / image.height == pytest.approx(297 / 210, rel=0.01)
    texts = [o for o in read_ofd(data).pages[0].objects if isinstance(o, TextObject)]
    name = next(t for t in texts if t.text.startswith("郑州中原智链"))
    assert _ink(image, astuple(name.boundary), 297) > 500, "company name not drawn"
    empty = (170, 135, 20, 15)  # between 住所 and 登记机关: nothing is printed there
    assert _ink(image, empty, 297) == 0


@pytest.mark.slow
@needs_ofd_check
def test_sealed_licence_ofd_passes_ofd_check_and_easyofd_shows_the_stamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our licence OFD sealed with a real SES_Signature (ofd-sign's add_signature and the
    SES test seal): ofdrw's validator PASSes it and FAILs a copy with one byte of the page
    changed; easyofd draws the seal picture from SignedValue.dat in the template's spot."""
    data, _ = template_licence_ofd("business_licence")
    box = first_seal_box("business_licence")
    signer = SesSigner()
    sealed = add_signature(
        OfdPackage.read(data),
        signer,
        provider=PROVIDER,
        signature_time=sm2().valid_at,
        stamps=[StampPlacement(0, box)],
        seal=signer.seal,
    )
    page = bytearray(sealed[PAGE])
    page[page.index(b"\xe9\x83\x91")] ^= 0x01  # the first 郑 of the page, one bit
    tampered = sealed.with_files({PAGE: bytes(page)})
    (tmp_path / "sealed.ofd").write_bytes(sealed.to_bytes())
    (tmp_path / "tampered.ofd").write_bytes(tampered.to_bytes())
    run = subprocess.run(
        [str(OFD_CHECK), str(tmp_path / "sealed.ofd"), str(tmp_path / "tampered.ofd")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    lines = run.stdout.splitlines()
    assert any(line.startswith(f"PASS {tmp_path / 'sealed.ofd'}") for line in lines), run.stdout
    assert any(line.startswith(f"FAIL {tmp_path / 'tampered.ofd'}") for line in lines), run.stdout

    unsealed = easyofd_png(data, tmp_path, monkeypatch)
    sealed_image = easyofd_png(sealed.to_bytes(), tmp_path, monkeypatch)
    sealed_image.save(tmp_path / "easyofd-sealed.png")
    assert seal_red_pixels(unsealed, box, 297) < 50
    assert seal_red_pixels(sealed_image, box, 297) > 2000, "no seal picture in the stamp's spot"
    name = next(
        o for o in read_ofd(data).pages[0].objects
        if isinstance(o, TextObject) and o.text.startswith("郑州中原智链")
    )  # fmt: skip
    assert _ink(sealed_image, astuple(name.boundary), 297) > 500, "text and stamp, both"
