"""The PDF and the OFD of one issued licence carry the same data, number, identifier,
QR target and GB/T 36903 metadata.

An OFD licence is issued; its page is rebuilt from the stored record (data, version,
issue time, identifier, QR URL) and rendered as PDF too, after checking that this page
is the one that was issued (its OFD page content is byte-identical to the stored one).
Then each file is read by a different tool: the PDF's text with poppler's ``pdftotext``,
the OFD's with :mod:`ofd.reader`; the QR code is decoded by ``zbarimg`` from a raster of
each page (poppler's ``pdftoppm`` for the PDF, :mod:`ofd.raster` for the OFD); the
metadata from the PDF's XMP packet (read with pyHanko) and from ``DocInfo/CustomDatas``.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree
from pyhanko.pdf_utils.reader import PdfFileReader

from ofd.model import TextObject
from ofd.package import OfdPackage
from ofd.raster import render_page
from ofd.reader import read_ofd
from sealsvc import seals
from sealsvc.context import ServiceContext
from sealsvc.licences import (
    LicencePage,
    QrCode,
    get_licence_ofd,
    issue_licence,
    load_template,
    render_licence,
)
from sealsvc.licences.metadata import XMP_NAMESPACE
from sealsvc.licences.pipeline import record_metadata
from sealsvc.licences.render_ofd import render_licence_ofd
from sealsvc.pades import Level

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

PAGE = "Doc_0/Pages/Page_0/Content.xml"
needs_zbarimg = pytest.mark.skipif(
    shutil.which("zbarimg") is None, reason="zbarimg (zbar-tools) is not installed"
)


def _run(*argv: str | Path, binary: bool = False) -> str | bytes:
    done = subprocess.run([str(a) for a in argv], check=True, capture_output=True)
    return done.stdout if binary else done.stdout.decode("utf-8")


def _qr(png: Path) -> str:
    return str(_run("zbarimg", "-q", "--raw", png)).strip()


@needs_zbarimg
@pytest.mark.parametrize("name", ["business_licence", "real_estate_certificate"])
def test_the_pdf_and_the_ofd_of_one_licence_say_the_same(
    sqlite_seal_context: ServiceContext, tmp_path: Path, name: str
) -> None:
    context = sqlite_seal_context
    template = load_template(name)
    department = "郑州市市场监督管理局" if name == "business_licence" else "郑州市自然资源和规划局"
    code = seals.issue(
        context, department=department, kind="公章", algorithm="sm2", actor="test"
    ).code
    record = issue_licence(context, template, template.example, [code], actor="test",
                           file_format="ofd", level=Level.B_B)  # fmt: skip
    assert record.identifier
    ofd = get_licence_ofd(context, record.number)
    metadata = record_metadata(context, record)
    assert metadata is not None
    page = LicencePage(record.number, record.version, record.data,
                       QrCode.encode(record.verify_url), record.issued_at, record.identifier,
                       metadata)  # fmt: skip
    # the rebuilt page is the issued one: same OFD page content, byte for byte
    assert OfdPackage.read(render_licence_ofd(template, page))[PAGE] == OfdPackage.read(ofd)[PAGE]
    pdf_path = tmp_path / "licence.pdf"
    pdf_path.write_bytes(render_licence(template, page))

    # text: the same characters, whatever order each tool reads them in
    pdf_text = re.sub(r"\s+", "", str(_run("pdftotext", "-raw", pdf_path, "-")))
    document = read_ofd(ofd)
    ofd_text = re.sub(
        r"\s+", "", "".join(o.text for o in document.pages[0].objects if isinstance(o, TextObject))
    )
    assert Counter(pdf_text) == Counter(ofd_text)
    for value in (record.number, record.identifier, *template.display(record.data).values()):
        shown = re.sub(r"\s+", "", value)
        assert shown in pdf_text and shown in ofd_text, value

    # the QR code: decoded from a raster of each page
    _run("pdftoppm", "-png", "-r", "200", "-singlefile", pdf_path, tmp_path / "pdf")
    render_page(document.pages[0], dpi=200).save(tmp_path / "ofd.png")
    assert _qr(tmp_path / "pdf.png") == _qr(tmp_path / "ofd.png") == record.verify_url

    # GB/T 36903 metadata: XMP properties of the PDF, CustomDatas of the OFD, same values
    xmp = PdfFileReader(io.BytesIO(pdf_path.read_bytes())).root["/Metadata"].get_object().data
    properties = [
        (etree.QName(e).localname, (e.text or "").strip())
        for e in etree.fromstring(xmp).iter(f"{{{XMP_NAMESPACE}}}*")
    ]
    expected = metadata.xmp_schema().properties
    assert [(n.split(":")[-1], v) for n, v, _ in expected] == properties
    assert document.info.custom_datas == tuple(metadata.pairs())
    assert [v for _, v in properties] == [v for _, v in document.info.custom_datas]
    assert {record.number, record.identifier} <= {v for _, v in properties}
