"""Licence OFDs rendered from the templates, and what easyofd (an independent renderer) draws.

Sealing, signing and long-term tests start from the same licence page as issuing makes
it and look for seal-red ink where the template puts the seal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from ofd.model import TextObject
from ofd.reader import read_ofd
from sealsvc.licences import (
    LicencePage,
    QrCode,
    data_hash,
    load_template,
    verification_url,
)
from sealsvc.licences.identifier import LicenceIdentifier
from sealsvc.licences.metadata import licence_metadata
from sealsvc.licences.render_ofd import render_licence_ofd

ISSUED = datetime(2024, 3, 15, 2, 30, tzinfo=UTC)


NUMBER = "YYZZ2024031512345678"


ISSUER_CODE = "11410100EXAMPL012Q"


def licence_page(name: str, data: dict[str, str]) -> LicencePage:
    """The page of licence NUMBER as issuing makes it: identifier and metadata included."""
    template = load_template(name)
    url = verification_url(
        "https://zwfw.zhengzhou.example", NUMBER, data_hash(NUMBER, 1, name, data)
    )
    identifier = LicenceIdentifier.for_licence(
        type_code=template.spec.licence_type.code,
        issuer_code=ISSUER_CODE,
        number=NUMBER,
        version=1,
    )
    metadata = licence_metadata(
        template, number=NUMBER, data=data, identifier=identifier, issued_at=ISSUED
    )
    return LicencePage(NUMBER, 1, data, QrCode.encode(url), ISSUED, str(identifier), metadata)


def template_licence_ofd(name: str) -> tuple[bytes, LicencePage]:
    """The unsealed OFD of template ``name``'s example licence, and the page it shows."""
    template = load_template(name)
    page = licence_page(name, template.validate_data(template.example))
    return render_licence_ofd(template, page), page


def easyofd_png(data: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Image.Image:
    """easyofd's PNG of the first page of ``data``.

    easyofd sets every character in a font it calls 宋体 and registers embedded fonts under
    their file names instead; so we hand it our embedded song subset under that name: the
    glyphs it draws come from the OFD file, none from the machine's fonts.
    """
    easyofd = pytest.importorskip("easyofd.ofd")
    texts = [o for o in read_ofd(data).pages[0].objects if isinstance(o, TextObject)]
    song = next(t.font for t in texts if t.font.family == "AR PL UMing CN")
    font_file = tmp_path / "song.ttf"
    font_file.write_bytes(song.data)
    pdfmetrics.registerFont(TTFont("宋体", str(font_file)))
    monkeypatch.chdir(tmp_path)  # easyofd unpacks into the working directory
    reader = easyofd.OFD()
    reader.read(data, fmt="binary")
    (image,) = reader.to_jpg()
    return image


def first_seal_box(template_name: str) -> tuple[float, float, float, float]:
    """The template's first seal spot (centre, mm from lower left) as an OFD boundary."""
    spec = load_template(template_name).spec
    spot = spec.seals[0]
    half = spot.size_mm / 2
    return (spot.x_mm - half, spec.page.height_mm - spot.y_mm - half, spot.size_mm, spot.size_mm)


def seal_red_pixels(
    image: Image.Image, box: tuple[float, float, float, float], page_mm: float
) -> int:
    """Seal-red pixels inside ``box`` (mm from the upper left)."""
    scale = image.width / page_mm
    x, y, w, h = (round(v * scale) for v in box)
    red, green, blue = image.convert("RGB").crop((x, y, x + w, y + h)).split()
    mask = ImageChops.multiply(
        ImageChops.multiply(
            red.point(lambda v: 255 if v > 150 else 0), green.point(lambda v: 255 if v < 100 else 0)
        ),
        blue.point(lambda v: 255 if v < 100 else 0),
    )
    return mask.histogram()[255]
