"""四性检测 (DA/T 70) on a corpus of real records the service made, and made wrong.

Real CAs, seals, TSA and registry (SQLite); licences issued by the pipeline (PDF B-LTA
with an RSA seal, OFD B-T with an SM2 seal).  Each defect of the corpus is made the way an
attacker or a broken system would make it, and confirmed by a tool nobody here wrote
before the checker is asked about it: ``pdfinfo`` (pages, encryption, JavaScript),
``pdfsig`` (the foreign seal), ``pdffonts`` (fonts embedded).  Every file must fail on the
property DA/T 70 puts the defect under, with a reason that names it — and the valid
licences must pass all four.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import io
import json
import re
import subprocess
import weakref
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jsonschema
import pytest
from gmssl import sm3
from helpers.hostile_pdfs import HOSTILE
from helpers.local import TEST_PASSPHRASE
from helpers.pdf_fixtures import chinese_pdf
from helpers.pki_fixtures import build_hierarchy
from pdfminer.pdfdocument import PDFDocument
from pdfminer.pdfparser import PDFParser
from pdfminer.pdftypes import resolve1
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.embed import EmbeddedFileObject, FileSpec, embed_file
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign import fields, signers
from sqlalchemy import event

from ofd.package import OfdPackage
from pki.clock import now_utc
from pki.pdf_signer import KeyHandleSigner
from sealsvc import seals
from sealsvc.archival_check import (
    ARCHIVE_CHECK_SCHEMA,
    ArchiveChecker,
    Item,
    Outcome,
    Property,
    RecordReport,
    runner,
)
from sealsvc.archival_check.pdf_facts import _RISKY, _decoded, inspect_pdf
from sealsvc.archival_check.record import RecordInspector
from sealsvc.config import Settings
from sealsvc.context import ServiceContext
from sealsvc.licences import (
    LicencePage,
    QrCode,
    annul_licence,
    get_licence_file,
    issue_licence,
    load_template,
    render_licence,
)
from sealsvc.licences.metadata import licence_metadata
from sealsvc.pades import Level, Placement, SealOptions
from sealsvc.sealing import Sealer
from sealsvc.verification.pdf_signatures import open_reader
from sealsvc.verification.service import DocumentVerifier

if TYPE_CHECKING:
    from helpers.seal_fixtures import CaTemplates

pytest_plugins = ("helpers.seal_fixtures",)  # ca_templates, seal_context

ACTOR = "test:archive-check"
MARKET = "郑州市市场监督管理局"


@dataclass
class Corpus:
    context: ServiceContext
    directory: Path
    rsa_seal: str
    sm2_seal: str
    pdf_number: str
    ofd_number: str

    def file(self, name: str) -> Path:
        return self.directory / name

    def write(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        path.write_bytes(data)
        return path

    def issue(self, file_format: str = "pdf") -> str:
        seal = self.rsa_seal if file_format == "pdf" else self.sm2_seal
        template = load_template("business_licence")
        return issue_licence(
            self.context, template, template.example, [seal], actor=ACTOR, file_format=file_format
        ).number

    def check(self, *paths: Path | str, render: bool = False) -> list[RecordReport]:
        items = [Item(str(p), path=p) if isinstance(p, Path) else Item.parse(p) for p in paths]
        report = ArchiveChecker(self.context, render=render).check(items)
        jsonschema.validate(report.to_dict(), ARCHIVE_CHECK_SCHEMA)
        return list(report.records)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, ca_templates: CaTemplates) -> Iterator[Corpus]:
    """One data directory for the module: issuing is the slow part, checking is not."""
    from helpers.seal_fixtures import _populate  # the plugin's own copy step, after it registered

    data_dir = tmp_path_factory.mktemp("archive-check")
    settings = Settings.load(data_dir, {"SEALSVC_PASSPHRASE": TEST_PASSPHRASE})
    context = _populate(settings, ca_templates.get("sqlite"))
    with context.database.session(read_only=True) as session:
        context.ca.export_files(session)  # the verifier's trust anchors
    rsa = seals.issue(context, department=MARKET, kind="公章", algorithm="rsa", actor=ACTOR)
    sm2 = seals.issue(context, department=MARKET, kind="公章", algorithm="sm2", actor=ACTOR)
    files = data_dir / "corpus"
    files.mkdir()
    found = Corpus(context, files, rsa.code, sm2.code, "", "")
    found.pdf_number = found.issue("pdf")
    found.ofd_number = found.issue("ofd")
    found.write("valid.pdf", get_licence_file(context, found.pdf_number))
    found.write("valid.ofd", get_licence_file(context, found.ofd_number))
    try:
        yield found
    finally:
        context.close()


def _failed(report: RecordReport, which: Property) -> dict[str, str]:
    """The failed checks of one property: id → reason."""
    return {c.id: c.reason for c in report.property(which).checks if c.outcome is Outcome.FAIL}


def _tool(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


# --- the valid licences ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["valid.pdf", "valid.ofd"])
def test_a_valid_sealed_licence_passes_all_four(corpus: Corpus, name: str) -> None:
    (report,) = corpus.check(corpus.file(name))
    failures = {p.property: _failed(report, p.property) for p in report.properties}
    assert report.passed, failures
    assert report.verdict == "TOTAL_PASSED"
    assert report.licence_number in (corpus.pdf_number, corpus.ofd_number)
    authenticity = {c.id: c for c in report.property(Property.AUTHENTICITY).checks}
    assert authenticity["registry_match"].outcome is Outcome.PASS
    assert authenticity["metadata_match"].outcome is Outcome.PASS
    assert "12 项" in authenticity["metadata_match"].reason  # every GB/T 36903 element compared


def test_a_valid_pdf_licence_is_pdfa_with_fonts_embedded_per_pdffonts(corpus: Corpus) -> None:
    """What the checker says about the licence, poppler says too."""
    path = corpus.file("valid.pdf")
    fonts = _tool("pdffonts", str(path)).splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # emb column
    (report,) = corpus.check(path)
    usability = {c.id: c.reason for c in report.property(Property.USABILITY).checks}
    assert usability["long_term_format"].startswith("PDF/A-2B")
    assert "注" not in usability["long_term_format"]  # no Producer note: Info and XMP agree


@pytest.mark.parametrize("level", [Level.B_B, Level.B_LTA])
def test_a_sealed_licence_names_one_producer_in_info_and_xmp(corpus: Corpus, level: Level) -> None:
    """poppler reads the Info /Producer (pdfinfo) and the XMP packet (pdfinfo -meta): after
    sealing and, at B-LTA, the DSS and document time-stamp updates, both name pyHanko."""
    template = load_template("business_licence")
    number = issue_licence(
        corpus.context, template, template.example, [corpus.rsa_seal], actor=ACTOR, level=level
    ).number
    path = corpus.write(f"producer-{level.value}.pdf", get_licence_file(corpus.context, number))
    info = re.search(r"^Producer:\s+(.*)$", _tool("pdfinfo", str(path)), re.MULTILINE)
    xmp = re.search(r'pdf:Producer(?:="([^"]*)"|>([^<]*)<)', _tool("pdfinfo", "-meta", str(path)))
    assert info and xmp, "pdfinfo shows no Producer"
    assert info.group(1).startswith("pyHanko ")
    assert info.group(1) == (xmp.group(1) or xmp.group(2))
    (report,) = corpus.check(path)  # B-B has no time-stamp: 真实性 fails, 可用性 holds
    long_term = {c.id: c for c in report.property(Property.USABILITY).checks}["long_term_format"]
    assert long_term.outcome is Outcome.PASS
    assert "Producer" not in long_term.reason


def test_a_foreign_pyhanko_update_keeps_the_producer_note(corpus: Corpus) -> None:
    """A file updated by pyHanko elsewhere still carries the two Producers (pyHanko appends
    its name to the Info one, replaces the XMP one): a note, not a failure."""
    writer = IncrementalPdfFileWriter(io.BytesIO(corpus.file("valid.pdf").read_bytes()))
    info = writer.trailer.raw_get("/Info")
    info.get_object()["/Producer"] = generic.TextStringObject("Other PDF Tool")
    writer.mark_update(info)
    out = io.BytesIO()
    writer.write(out)
    path = corpus.write("foreign-producer.pdf", out.getvalue())
    assert "Other PDF Tool; pyHanko" in _tool("pdfinfo", str(path))
    facts = inspect_pdf(out.getvalue())
    assert not facts.long_term_problems
    (note,) = facts.notes
    assert "Other PDF Tool; pyHanko" in note and "已知差异" in note


def test_a_licence_number_checks_the_stored_file(corpus: Corpus) -> None:
    (report,) = corpus.check(corpus.pdf_number)
    assert report.source == f"licence:{corpus.pdf_number}"
    assert report.passed
    assert report.sha256 == _sha256(corpus.file("valid.pdf").read_bytes())


@pytest.mark.parametrize("name", ["valid.pdf", "valid.ofd"])
def test_render_paints_page_one(corpus: Corpus, name: str) -> None:
    (report,) = corpus.check(corpus.file(name), render=True)
    renders = next(
        c for c in report.property(Property.USABILITY).checks if c.id == "opens_and_renders"
    )
    assert renders.outcome is Outcome.PASS and "已渲染" in renders.reason


# --- 真实性 ------------------------------------------------------------------------------------


def test_a_tampered_licence_fails_authenticity(corpus: Corpus) -> None:
    data = bytearray(corpus.file("valid.pdf").read_bytes())
    at = data.index(b"/Title (") + 8  # inside the first revision, covered by the seal
    data[at : at + 2] = b"XX"
    path = corpus.write("tampered.pdf", bytes(data))
    (report,) = corpus.check(path)
    failed = _failed(report, Property.AUTHENTICITY)
    assert "seals_verify" in failed and "TOTAL_FAILED" in failed["seals_verify"]
    assert "registry_match" in failed and "SHA-256" in failed["registry_match"]
    assert not report.passed


def test_a_page_removed_and_resealed_with_a_foreign_key_fails(corpus: Corpus) -> None:
    """A two-page sealed document loses page 2 (poppler's pdfseparate) and is sealed again
    by a key of another CA: the foreign seal is not trusted, and our seal is gone."""
    sealed = (
        Sealer(corpus.context)
        .seal(
            chinese_pdf(2),
            corpus.rsa_seal,
            SealOptions(level=Level.B_LTA, placement=Placement(invisible=True)),
            actor=ACTOR,
        )
        .pdf
    )
    two = corpus.write("two-pages.pdf", sealed)
    one = corpus.file("page-1.pdf")
    subprocess.run(["pdfseparate", "-f", "1", "-l", "1", str(two), str(one)], check=True)
    hierarchy = build_hierarchy("rsa")
    signer = KeyHandleSigner(hierarchy.seal_key, hierarchy.seal, [hierarchy.issuing])
    meta = signers.PdfSignatureMetadata(
        field_name="Foreign", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(one.read_bytes()))
    resealed = corpus.write(
        "page-removed.pdf", signers.PdfSigner(meta, signer).sign_pdf(writer).getvalue()
    )
    assert "Pages:           1" in _tool("pdfinfo", str(resealed))
    assert "Signature is Valid." in _tool("pdfsig", str(resealed))  # intact, but whose?

    (report,) = corpus.check(resealed)
    failed = _failed(report, Property.AUTHENTICITY)
    assert "seals_verify" in failed, report.to_dict()
    assert "证据不完整" in failed["evidence_coverage"]  # no time-stamp, no revocation data


# --- 完整性 ------------------------------------------------------------------------------------


def test_a_licence_missing_required_metadata_fails_integrity(corpus: Corpus) -> None:
    """A licence rendered without its identifier (as before GB/T 36904 identifiers were
    given) and sealed: it lacks 证照标识 and 发证机构代码."""
    template = load_template("business_licence")
    data = template.validate_data(template.example)
    issued = now_utc()
    metadata = licence_metadata(
        template, number="YYZZ2024031500000009", data=data, identifier=None, issued_at=issued
    )
    page = LicencePage(
        metadata.number, 1, data, QrCode.encode("http://x/verify/1?h=2"), issued, None, metadata
    )
    sealed = (
        Sealer(corpus.context)
        .seal(
            render_licence(template, page),
            corpus.rsa_seal,
            SealOptions(level=Level.B_LTA, placement=Placement(invisible=True)),
            actor=ACTOR,
            trusted_input=True,
        )
        .pdf
    )
    (report,) = corpus.check(corpus.write("no-identifier.pdf", sealed))
    failed = _failed(report, Property.INTEGRITY)
    assert "证照标识" in failed["required_metadata"]
    assert "发证机构代码" in failed["required_metadata"]


def test_a_batch_with_a_serial_gap_is_flagged(corpus: Corpus) -> None:
    first, second, third = (corpus.issue() for _ in range(3))
    report = ArchiveChecker(corpus.context).check([Item.parse(first), Item.parse(third)])
    (gap,) = report.serial_gaps
    assert second in gap
    for record in report.records:
        failed = _failed(record, Property.INTEGRITY)
        assert second in failed["serial_continuity"], failed
    assert not report.passed

    whole = ArchiveChecker(corpus.context).check([Item.parse(n) for n in (first, second, third)])
    assert whole.serial_gaps == ()
    continuity = [
        c
        for r in whole.records
        for c in r.property(Property.INTEGRITY).checks
        if c.id == "serial_continuity"
    ]
    assert [c.outcome for c in continuity] == [Outcome.PASS] * 3


def test_a_record_checked_alone_has_no_serial_to_check(corpus: Corpus) -> None:
    (report,) = corpus.check(corpus.file("valid.pdf"))
    (continuity,) = [
        c for c in report.property(Property.INTEGRITY).checks if c.id == "serial_continuity"
    ]
    assert continuity.outcome is Outcome.NOT_APPLICABLE


# --- 安全性 ------------------------------------------------------------------------------------


def _incremental(pdf: bytes, change) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_javascript_on_open_fails_security(corpus: Corpus) -> None:
    def open_action(writer: IncrementalPdfFileWriter) -> None:
        action = generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Action"),
                generic.NameObject("/S"): generic.NameObject("/JavaScript"),
                generic.NameObject("/JS"): generic.TextStringObject("app.alert('hi');"),
            }
        )
        writer.root[generic.NameObject("/OpenAction")] = writer.add_object(action)
        writer.update_root()

    path = corpus.write(
        "javascript.pdf", _incremental(corpus.file("valid.pdf").read_bytes(), open_action)
    )
    assert _open_action_per_pdfminer(path) == ("JavaScript", b"app.alert('hi');")
    (report,) = corpus.check(path)
    failed = _failed(report, Property.SECURITY)
    assert "JavaScript" in failed["no_active_content"]
    assert "打开文档时执行 JavaScript 动作" in failed["no_active_content"]


def _open_action_per_pdfminer(path: Path) -> tuple[str, bytes]:
    """The catalog's OpenAction as pdfminer.six (another parser) reads it."""
    with path.open("rb") as stream:
        document = PDFDocument(PDFParser(stream))
        action = resolve1(document.catalog["OpenAction"])
        return action["S"].name, resolve1(action["JS"])


def test_an_embedded_program_fails_security(corpus: Corpus) -> None:
    def attach(writer: IncrementalPdfFileWriter) -> None:
        program = EmbeddedFileObject.from_file_data(writer, b"MZ\x90\x00" + bytes(60))
        embed_file(writer, FileSpec(file_spec_string="readme.txt", embedded_data=program))

    path = corpus.write("program.pdf", _incremental(corpus.file("valid.pdf").read_bytes(), attach))
    (report,) = corpus.check(path)
    failed = _failed(report, Property.SECURITY)
    assert "readme.txt" in failed["no_executables"] and "Windows" in failed["no_executables"]


# --- 可用性 ------------------------------------------------------------------------------------


def test_an_encrypted_pdf_fails_usability(corpus: Corpus) -> None:
    """Encrypted with an owner password only: it opens (empty user password), but an
    archive cannot count on the security handler in twenty years."""
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(corpus.file("valid.pdf").read_bytes())))
    writer.encrypt("owner-secret", "")
    out = io.BytesIO()
    writer.write(out)
    path = corpus.write("encrypted.pdf", out.getvalue())
    assert "Encrypted:       yes" in _tool("pdfinfo", str(path))
    (report,) = corpus.check(path)
    assert "not_encrypted" in _failed(report, Property.USABILITY)
    assert "not_encrypted" in _failed(report, Property.SECURITY)


def test_a_pdf_that_needs_a_password_fails_every_property_with_the_reason(corpus: Corpus) -> None:
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(chinese_pdf(1))))
    writer.encrypt("owner-secret", "user-secret")
    out = io.BytesIO()
    writer.write(out)
    (report,) = corpus.check(corpus.write("locked.pdf", out.getvalue()))
    for which in Property:
        assert any("密码" in reason for reason in _failed(report, which).values()), which


# --- a batch --------------------------------------------------------------------------------


def test_a_batch_never_stops_at_a_bad_record(corpus: Corpus) -> None:
    garbage = corpus.write("garbage.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 8)
    not_a_document = corpus.write("notes.txt", "不是文件".encode())
    records = corpus.check(
        garbage,
        corpus.file("missing.pdf"),
        not_a_document,
        "YYZZ2099010100000001",  # well-formed, not registered
        corpus.file("valid.pdf"),
        corpus.file("valid.ofd"),
    )
    assert [r.passed for r in records] == [False, False, False, False, True, True]
    reasons = [json.dumps(r.to_dict(), ensure_ascii=False) for r in records[:4]]
    assert "PDF 无法解析" in reasons[0] or "TOTAL_FAILED" in reasons[0]
    assert "无法读取" in reasons[1]
    assert "既不是 PDF 也不是 OFD" in reasons[2]
    # The checksums recorded: SM3 as gmssl (another implementation) computes it.
    assert records[2].sm3 == sm3.sm3_hash(list(not_a_document.read_bytes()))
    assert records[2].sha256 == _sha256(not_a_document.read_bytes())
    assert "YYZZ2099010100000001" in reasons[3]


def test_a_batch_asks_the_registry_once_per_chunk(corpus: Corpus) -> None:
    """Which licence each file of a chunk is, the registry's records of those licences and
    the registry's state the seals are judged against come from one query each, not from
    several per record: SQLAlchemy's statements counted as the database receives them."""
    numbers = [corpus.issue("pdf") for _ in range(3)]
    paths = [corpus.write(f"chunk-{n}.pdf", get_licence_file(corpus.context, n)) for n in numbers]
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    engine = corpus.context.database.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        records = corpus.check(*paths, corpus.file("valid.ofd"))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    for record in records:  # (the batch skips licences issued between: a serial gap)
        matched = {c.id: c for c in record.property(Property.AUTHENTICITY).checks}
        assert matched["registry_match"].outcome is Outcome.PASS, record.source
        assert matched["metadata_match"].outcome is Outcome.PASS, record.source
    assert [r.licence_number for r in records[:3]] == numbers
    # four licences (three PDF, one OFD): one query finds them by their files' SHA-256,
    # one reads their versions to identify them, one reads them for the archive record
    by_hash = [s for s in statements if re.search(r"licences\.document_sha256 IN", s)]
    bulk = [s for s in statements if re.search(r"licences\.number IN", s)]
    assert (len(by_hash), len(bulk)) == (1, 2), statements
    assert not [s for s in statements if re.search(r"licences\.(number|document_sha256) =", s)]
    assert len([s for s in statements if re.search(r"FROM audit_head", s)]) == 1


def test_worker_processes_give_the_reports_of_one_process_in_order(corpus: Corpus) -> None:
    """Two workers (forked from the forkserver, a chunk per task) report exactly what one
    process reports, record for record and in the batch's order."""
    garbage = corpus.write("garbage-workers.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 4)
    names = ["valid.pdf", "valid.ofd", "garbage-workers.pdf", "missing.pdf"] * 3
    items = [Item(n, path=corpus.file(n)) for n in names]
    assert garbage.exists()
    alone = ArchiveChecker(corpus.context).check(items)
    shared = ArchiveChecker(corpus.context).check(items, workers=2)
    assert [r.to_dict() for r in shared.records] == [r.to_dict() for r in alone.records]
    assert [r.passed for r in shared.records[:4]] == [True, True, False, False]


def test_each_chunk_runs_with_the_collector_paused_and_its_garbage_collected_after(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk is one unit of garbage collection (sealsvc.gc_pacing): the collector does
    not run inside it, and what it leaves in cycles is freed once it ends."""
    leftovers: list[weakref.ref[object]] = []
    collector_on: list[bool] = []
    checked = runner.check_records

    def spying(inspector: RecordInspector, items: Sequence[Item]) -> list[runner.Result]:
        collector_on.append(gc.isenabled())
        cycle: list[object] = []
        cycle.append(cycle)
        leftovers.append(weakref.ref(_Referenced(cycle)))
        return checked(inspector, items)

    monkeypatch.setattr(runner, "check_records", spying)
    items = [Item("valid.pdf", path=corpus.file("valid.pdf"))] * (runner.CHUNK + 1)
    assert ArchiveChecker(corpus.context).check(items).passed
    assert collector_on == [False, False]  # two chunks, neither with the collector on
    assert gc.isenabled()
    assert [ref() for ref in leftovers] == [None, None]


class _Referenced:
    """Something in a reference cycle, so that only the collector frees it."""

    def __init__(self, cycle: list[object]) -> None:
        self.cycle = cycle
        cycle.append(self)


def test_a_registry_fault_fails_its_chunk_with_an_id_and_the_batch_goes_on(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A fault of ours while reading the registry (injected: the database cannot fail on
    cue) fails the records of that chunk with a fault id that is in the log; records that
    never reached the registry keep their own reason."""

    def broken(self: RecordInspector, records: object) -> object:
        raise RuntimeError("registry connection lost")

    monkeypatch.setattr(RecordInspector, "registered", broken)
    records = corpus.check(corpus.file("valid.pdf"), corpus.file("missing.pdf"))
    (reason,) = {c.reason for c in records[0].properties[0].checks}
    fault = re.search(r"编号 ([0-9a-f]{12})", reason)
    assert fault and fault.group(1) in caplog.text and "registry connection lost" in caplog.text
    assert "无法读取" in records[1].properties[0].checks[0].reason


def test_the_facts_read_from_the_verifiers_parse_equal_a_fresh_parse(corpus: Corpus) -> None:
    """The check parses a PDF once and reads its facts from the objects the verifier
    resolved: the facts, and the verifier's verdict, must be those of separate parses."""
    verifier = DocumentVerifier(corpus.context)
    names = ["valid.pdf", "encrypted.pdf", "javascript.pdf", "program.pdf", "foreign-producer.pdf"]
    for path in (corpus.file(n) for n in names if corpus.file(n).exists()):
        data = path.read_bytes()
        reader = open_reader(data)
        shared = verifier.check(data, ofd=False, reader=reader).report
        assert inspect_pdf(data, reader) == inspect_pdf(data), path.name
        alone = verifier.check(data, ofd=False).report
        assert (shared.verdict, shared.sentence) == (alone.verdict, alone.sentence), path.name


def test_ascii85_flate_page_content_is_decoded_as_pyhanko_decodes_it() -> None:
    """reportlab writes page content as ASCII85 over Flate; the checker decodes it with
    the standard library.  Zero groups ("z"), line breaks and the "~>" end must read as
    pyHanko's own decoder reads them."""
    content = b"q BT /F1 12 Tf (\x00\x00\x00\x00) Tj ET /Im0 Do Q\n" * 40
    packed = zlib.compress(b"\x00" * 16 + content, 0)  # stored: the zeros stay zeros
    encoded = base64.a85encode(packed, wrapcol=64) + b"~>"
    assert b"z" in encoded and b"\n" in encoded
    chain = generic.ArrayObject(
        [generic.NameObject("/ASCII85Decode"), generic.NameObject("/FlateDecode")]
    )
    stream = generic.StreamObject({generic.NameObject("/Filter"): chain}, encoded_data=encoded)
    theirs = generic.StreamObject({generic.NameObject("/Filter"): chain}, encoded_data=encoded)
    assert _decoded(stream, encrypted=False) == theirs.data == b"\x00" * 16 + content
    broken = generic.StreamObject({generic.NameObject("/Filter"): chain}, encoded_data=b"ab{~>")
    with pytest.raises(ValueError, match="cannot be decoded"):
        _decoded(broken, encrypted=False)


def test_the_cli_prints_tables_and_a_summary_and_exits_by_the_verdict(
    corpus: Corpus, tmp_path: Path
) -> None:
    env = {
        "SEALSVC_PASSPHRASE": TEST_PASSPHRASE,
        "SEALSVC_DATA_DIR": str(corpus.context.settings.data_dir),
        "PATH": "/usr/bin:/bin",
    }
    sealctl = str(Path(__file__).parents[1] / ".venv" / "bin" / "sealctl")
    valid = [str(corpus.file("valid.pdf")), str(corpus.file("valid.ofd"))]
    ok = subprocess.run(
        [sealctl, "archive", "check", *valid], env=env, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert (
        "真实性" in ok.stdout and "四性检测汇总" in ok.stdout and "全部 2 份记录通过" in ok.stdout
    )

    bad = [*valid, str(corpus.file("tampered.pdf"))]
    if not corpus.file("tampered.pdf").exists():
        corpus.write("tampered.pdf", b"%PDF-1.7 broken")
    out = subprocess.run(
        [sealctl, "archive", "check", "--json", "--workers", "2", *bad],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    jsonschema.validate(report, ARCHIVE_CHECK_SCHEMA)
    assert [r["passed"] for r in report["records"]] == [True, True, False]
    assert report["summary"]["failed_by_property"]["authenticity"] == 1


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- OFD defects ----------------------------------------------------------------------------


def _ofd_with(corpus: Corpus, change) -> bytes:
    package = OfdPackage.read(corpus.file("valid.ofd").read_bytes())
    return OfdPackage.from_files(change(dict(package.items()))).to_bytes()


def test_an_ofd_that_opens_a_url_on_opening_fails_security(corpus: Corpus) -> None:
    def add_action(files: dict[str, bytes]) -> dict[str, bytes]:
        action = (
            b'<ofd:Actions><ofd:Action Event="DO"><ofd:URI URI="http://example.invalid/x"/>'
            b"</ofd:Action></ofd:Actions></ofd:CommonData>"
        )
        files["Doc_0/Document.xml"] = files["Doc_0/Document.xml"].replace(
            b"</ofd:CommonData>", action
        )
        return files

    path = corpus.write("url-on-open.ofd", _ofd_with(corpus, add_action))
    (report,) = corpus.check(path)
    assert "打开文档时执行 URI 动作" in _failed(report, Property.SECURITY)["no_active_content"]
    # The seal's References cover Document.xml: the change breaks it too.
    assert "seals_verify" in _failed(report, Property.AUTHENTICITY)


def test_an_ofd_without_its_font_files_fails_integrity_and_usability(corpus: Corpus) -> None:
    def drop_fonts(files: dict[str, bytes]) -> dict[str, bytes]:
        return {p: d for p, d in files.items() if not p.endswith(".ttf")}

    (report,) = corpus.check(corpus.write("no-fonts.ofd", _ofd_with(corpus, drop_fonts)))
    assert "font" in _failed(report, Property.INTEGRITY)["components"]
    assert "fonts_embedded" in _failed(report, Property.USABILITY)


def test_an_ofd_resource_outside_the_package_is_an_external_reference(corpus: Corpus) -> None:
    def external(files: dict[str, bytes]) -> dict[str, bytes]:
        res = files["Doc_0/PublicRes.xml"]
        start = res.index(b"<ofd:FontFile>") + len(b"<ofd:FontFile>")
        end = res.index(b"</ofd:FontFile>", start)
        files["Doc_0/PublicRes.xml"] = res[:start] + b"http://fonts.example/simsun.ttf" + res[end:]
        return files

    (report,) = corpus.check(corpus.write("external.ofd", _ofd_with(corpus, external)))
    reason = _failed(report, Property.USABILITY)["no_external_references"]
    assert "http://fonts.example/simsun.ttf" in reason


def test_escaped_names_and_object_streams_make_the_checker_walk_every_object() -> None:
    """``/J#53`` is ``/JS`` once decoded: a byte search for ``/JS`` alone would miss it."""
    assert _RISKY.search(b"<< /S /JavaScript /J#53 (app.alert(1)) >>")
    assert _RISKY.search(b"<< /Type /ObjStm /N 3 >>")
    assert not _RISKY.search(b"<< /Type /Page /Contents 4 0 R /Resources << /Font << >> >> >>")


# --- what the registry knows ----------------------------------------------------------------


def test_an_annulled_licence_fails_authenticity_though_its_seal_holds(corpus: Corpus) -> None:
    number = corpus.issue()
    annul_licence(corpus.context, number, "企业申请注销", kind="cancelled", actor=ACTOR)
    (report,) = corpus.check(number)
    assert report.verdict == "TOTAL_PASSED"  # the seal is fine
    assert "注销" in _failed(report, Property.AUTHENTICITY)["registry_match"]


def test_serial_gaps_and_registry_on_each_database(seal_context: ServiceContext) -> None:
    """The registry queries (issue day in Beijing time, issuer) on SQLite and PostgreSQL."""
    with seal_context.database.session(read_only=True) as session:
        seal_context.ca.export_files(session)
    code = seals.issue(
        seal_context, department=MARKET, kind="公章", algorithm="rsa", actor=ACTOR
    ).code
    template = load_template("business_licence")
    numbers = [
        issue_licence(seal_context, template, template.example, [code], actor=ACTOR).number
        for _ in range(3)
    ]
    report = ArchiveChecker(seal_context).check([Item.parse(numbers[0]), Item.parse(numbers[2])])
    (gap,) = report.serial_gaps
    assert numbers[1] in gap
    assert [r.property(Property.AUTHENTICITY).passed for r in report.records] == [True, True]


_HOSTILE_OUTCOME = {
    "content bomb 1 GiB": "page",
    "content bomb 1 GiB, two Flate layers": "page",
    "page tree loop": "file",
    "xref /Prev loop": "file",
}
"""What each hostile file must give: a page that cannot be read (the bombs stop at the
decode limit), a file that cannot be read; the others parse (their hostility is in
places the verifier reads, or nowhere a page needs)."""


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_pdfs_are_failing_records_not_crashes(name: str) -> None:
    """Bombs, loops and deep nesting (tests/hostile_pdfs.py): the facts come back in
    bounded time and memory; nothing is raised."""
    facts = inspect_pdf(HOSTILE[name]())
    expected = _HOSTILE_OUTCOME.get(name, "readable")
    if expected == "file":
        assert facts.problem and "PDF 无法解析" in facts.problem
    elif expected == "page":
        assert facts.readable and "exceeds the limit" in facts.page_problems[0]
    else:
        assert facts.readable and facts.pages == 1 and not facts.page_problems, facts
