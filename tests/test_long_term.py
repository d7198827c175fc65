"""Long-term formats: a licence's PDF/A-2b claim is checked against the file, not believed.

The issued licence (PDF/A-2b by construction, sealed B-LTA) conforms; a plain reportlab
PDF claims nothing; an encrypted copy, one with JavaScript on open, and one whose claim
hides an unembedded font fail, each with its reason.  Cross-checked with poppler:
``pdffonts`` agrees on which fonts are embedded.
"""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import pytest
from helpers.licence_ofd_render import easyofd_png, seal_red_pixels
from helpers.ofd_check import OFD_CHECK
from helpers.pdf_fixtures import chinese_pdf, encrypted_pdf
from helpers.time_fixtures import ACTOR, World
from lxml import etree
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from ofd.package import OfdPackage
from ofd.reader import read_ofd
from ofd.signatures import read_signature, read_signatures
from pki import ses
from sealsvc import seals
from sealsvc.archive.import_check import import_check
from sealsvc.archive.ofd_a import ofd_a_copy
from sealsvc.archive.package import PackageExporter
from sealsvc.archive.pdfa_check import check_pdfa
from sealsvc.errors import InvalidInput
from sealsvc.licences import get_licence_pdf, issue_licence, load_template

pytest_plugins = ("helpers.seal_fixtures", "helpers.time_fixtures")  # sqlite_seal_context, world


@pytest.fixture
def licence_pdf(world: World) -> bytes:
    code = seals.issue(
        world.context, department="郑州市市场监督管理局", kind="公章", algorithm="rsa",
        actor=ACTOR,
    ).code  # fmt: skip
    template = load_template("business_licence")
    number = issue_licence(world.context, template, template.example, [code], actor=ACTOR).number
    return get_licence_pdf(world.context, number)


def _rezip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


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


@pytest.fixture
def ofd_a_package(world: World) -> tuple[bytes, dict[str, bytes]]:
    """An OFD licence exported with ``--ofd-a``: the sealed OFD and its OFD-A copy."""
    with world.context.database.session(read_only=True) as session:
        world.context.ca.export_files(session)
    code = seals.issue(
        world.context, department="郑州市市场监督管理局", kind="公章", algorithm="sm2",
        actor=ACTOR,
    ).code  # fmt: skip
    template = load_template("business_licence")
    number = issue_licence(
        world.context, template, template.example, [code], actor=ACTOR, file_format="ofd"
    ).number
    exported = PackageExporter(world.context, world.trust).export_licence(
        number, actor=ACTOR, ofd_a=True
    )
    with zipfile.ZipFile(io.BytesIO(exported.data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return exported.data, files


def test_the_ofd_a_copy_keeps_the_stamps_as_annotations_with_their_facts(
    ofd_a_package: tuple[bytes, dict[str, bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, files = ofd_a_package
    (original_path,) = [p for p in files if p.startswith("document/")]
    (copy_path,) = [p for p in files if p.startswith("long-term/")]
    assert copy_path.endswith("-ofd-a.ofd")
    original, copy = OfdPackage.read(files[original_path]), OfdPackage.read(files[copy_path])
    assert not any("/Signs/" in p or p.endswith("Signatures.xml") for p in copy)
    assert b"Signatures" not in copy["OFD.xml"]
    assert read_signatures(copy).entries == ()
    for path in ("Doc_0/Pages/Page_0/Content.xml", "Doc_0/PublicRes.xml"):
        assert copy[path] == original[path]  # pages and fonts untouched
    assert [p.objects for p in read_ofd(files[copy_path]).pages] == [
        p.objects for p in read_ofd(files[original_path]).pages
    ]

    (entry,) = read_signatures(original).entries
    signature = read_signature(original, entry)
    ses_signature = ses.parse_signature(original[signature.signed_value_path])
    assert copy["Doc_0/Res/stamp_0.png"] == ses_signature.seal.picture.data
    annotation = etree.fromstring(copy["Doc_0/Annots/Page_0/Annotation.xml"])
    ns = {"ofd": "http://www.ofdspec.org/2016"}
    (annot,) = annotation.findall("ofd:Annot", ns)
    assert annot.get("Type") == "Stamp" and annot.get("ReadOnly") == "true"
    parameters = {p.get("Name"): p.text for p in annot.iterfind("ofd:Parameters/ofd:Parameter", ns)}
    assert parameters["印章名称"] == ses_signature.seal.name
    assert parameters["印章编码"] == ses_signature.seal.es_id
    assert parameters["签名原文摘要(SM3)"] == ses_signature.data_hash.hex()
    assert parameters["验证结论"] == "TOTAL_PASSED"
    assert parameters["签章人"] and parameters["证书序列号"] and parameters["签章时间"]
    (stamp,) = signature.stamp_annots
    appearance = annot.find("ofd:Appearance", ns)
    assert [float(v) for v in appearance.get("Boundary").split()] == list(stamp.boundary)

    report = import_check(data)
    assert report.passed, [c for c in report.checks if not c.passed]
    assert [c.name for c in report.checks][-2:] == ["ofd_a", "audit_trail"]
    swapped = import_check(_rezip({**files, copy_path: files[original_path]}))
    (ofd_a,) = [c for c in swapped.checks if c.name == "ofd_a"]
    assert not ofd_a.passed and "still has seals" in ofd_a.reason

    (tmp_path / "copy.ofd").write_bytes(files[copy_path])
    if OFD_CHECK is not None:
        # ofdrw reads the copy and finds, as it should, no signature left to check: its
        # validator's only verdict on an unsigned OFD (it has no "structure only" mode).
        run = subprocess.run(
            [str(OFD_CHECK), "--info", str(tmp_path / "copy.ofd")],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert "signatures: none (OFD.xml DocBody has no Signatures entry)" in run.stdout
        assert "DocNotSignException" in run.stdout, run.stdout
    image = easyofd_png(files[copy_path], tmp_path, monkeypatch)
    image.save(tmp_path / "easyofd-ofd-a.png")
    box = (stamp.boundary[0], stamp.boundary[1], stamp.boundary[2], stamp.boundary[3])
    assert seal_red_pixels(image, box, 297) > 2000, "easyofd shows no stamp where the seal was"


@pytest.mark.parametrize(
    "max_unit_id",
    [b"", b"<ofd:MaxUnitID>many</ofd:MaxUnitID>", b"<ofd:MaxUnitID/>"],
    ids=["missing", "not-a-number", "empty"],
)
def test_an_ofd_a_copy_of_a_document_without_its_max_unit_id_is_refused(
    max_unit_id: bytes,
) -> None:
    """A Document.xml without a MaxUnitID number gets a clear refusal (it was an
    AttributeError or ValueError, a 500, before)."""
    sample = (Path(__file__).parent / "data" / "ofd-samples" / "SESV4SignDoc.ofd").read_bytes()
    package = OfdPackage.read(sample)
    document = package["Doc_0/Document.xml"]
    assert b"<ofd:MaxUnitID>4</ofd:MaxUnitID>" in document
    broken = document.replace(b"<ofd:MaxUnitID>4</ofd:MaxUnitID>", max_unit_id)
    ofd = package.with_files({"Doc_0/Document.xml": broken}).to_bytes()
    assert ofd_a_copy(sample, [{}], made_on="2026-12-04")  # the sample itself is fine
    with pytest.raises(InvalidInput, match="no CommonData/MaxUnitID number"):
        ofd_a_copy(ofd, [{}], made_on="2026-12-04")
