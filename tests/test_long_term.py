"""Long-term formats: a licence's PDF/A-2b claim is checked against the file, not believed.

The issued licence (PDF/A-2b by construction, sealed B-LTA) conforms; a plain reportlab
PDF claims nothing; an encrypted copy, one with JavaScript on open, and one whose claim
hides an unembedded font fail, each with its reason.  Cross-checked with poppler:
``pdffonts`` agrees on which fonts are embedded.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from pdf_fixtures import chinese_pdf, encrypted_pdf
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from time_fixtures import ACTOR, World

from sealsvc import seals
from sealsvc.archive.pdfa_check import check_pdfa
from sealsvc.licences import get_licence_pdf, issue_licence, load_template

pytest_plugins = ("seal_fixtures", "time_fixtures")  # sqlite_seal_context, world


@pytest.fixture
def licence_pdf(world: World) -> bytes:
    code = seals.issue(
        world.context, department="郑州市市场监督管理局", kind="公章", algorithm="rsa",
        actor=ACTOR,
    ).code  # fmt: skip
    template = load_template("business_licence")
    number = issue_licence(world.context, template, template.example, [code], actor=ACTOR).number
    return get_licence_pdf(world.context, number)


def _with_catalog_entries(pdf: bytes, **entries: generic.PdfObject) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    for key, value in entries.items():
        writer.root[f"/{key}"] = value
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_an_issued_licence_conforms_to_its_pdfa_2b_claim(
    licence_pdf: bytes, tmp_path: Path
) -> None:
    report = check_pdfa(licence_pdf)
    assert report.claim == "PDF/A-2B" and report.problems == ()
    assert report.conforms
    (tmp_path / "licence.pdf").write_bytes(licence_pdf)
    fonts = subprocess.run(
        ["pdffonts", "licence.pdf"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # emb column


def test_a_plain_pdf_claims_nothing_and_says_what_it_lacks() -> None:
    report = check_pdfa(chinese_pdf(1))
    assert report.claim is None and not report.conforms
    assert "no XMP metadata stream in the catalog" in report.problems
    assert "no GTS_PDFA1 output intent with an ICC profile" in report.problems


def test_an_encrypted_pdf_fails() -> None:
    report = check_pdfa(encrypted_pdf())
    assert report.problems == ("the file is encrypted",) and not report.conforms


def test_javascript_on_open_fails_the_claim(licence_pdf: bytes) -> None:
    action = generic.DictionaryObject(
        {
            generic.NameObject("/S"): generic.NameObject("/JavaScript"),
            generic.NameObject("/JS"): generic.TextStringObject("app.alert('hi')"),
        }
    )
    report = check_pdfa(_with_catalog_entries(licence_pdf, OpenAction=action))
    assert report.claim == "PDF/A-2B" and not report.conforms
    assert "a JavaScript action" in report.problems


def test_an_unembedded_font_behind_the_claim_fails(licence_pdf: bytes) -> None:
    font = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Font"),
            generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
            generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
        }
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(licence_pdf))
    holder = writer.root["/Pages"]["/Kids"].raw_get(0)  # the page, then its resources …
    fonts = holder.get_object()
    for key in ("/Resources", "/Font"):
        raw = fonts.raw_get(key)
        holder = raw if isinstance(raw, generic.IndirectObject) else holder
        fonts = raw.get_object()
    fonts[generic.NameObject("/FHelv")] = writer.add_object(font)
    writer.mark_update(holder)  # … whichever indirect object holds the font dictionary
    out = io.BytesIO()
    writer.write(out)
    report = check_pdfa(out.getvalue())
    assert "font Helvetica is not embedded" in report.problems


def test_garbage_is_a_reason_not_a_crash() -> None:
    report = check_pdfa(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nnot a pdf at all")
    assert not report.conforms and report.problems[0].startswith("the PDF cannot be read")
