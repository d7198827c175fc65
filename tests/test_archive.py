"""Archive renewal (B-LTA extension): a sealed licence outlives its TSA certificate.

The story an archive lives through, with the service's clock moved by injection:
a B-LTA document is sealed today; nine years on the TSA and OCSP certificates have been
renewed and the archive extends the document; twelve years on — two years after the
first TSA certificate expired — the extended copy still verifies, the untouched copy
does not.  Cross-checked with pdfsig (every signature intact) and the audit log.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from helpers.archive_fixtures import renew_service_certificates as _renew_service_certificates
from helpers.pdf_fixtures import certified_no_changes_pdf, chinese_pdf
from helpers.time_fixtures import ACTOR, YEAR, World
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESStatus

from pki.certificates import certificate_pem, load_certificate
from pki.clock import now_utc
from sealsvc import audit, seals
from sealsvc.archive import ArchiveExtender
from sealsvc.errors import InvalidInput
from sealsvc.pades import Level

pytest_plugins = ("helpers.seal_fixtures", "helpers.time_fixtures")  # sqlite_seal_context, world


@pytest.fixture(params=["rsa", "sm2"])
def algorithm(request: pytest.FixtureRequest) -> str:
    return request.param


def _seal_code(world: World, algorithm: str) -> str:
    return seals.issue(
        world.context, department="郑州市市场监督管理局", kind="公章", algorithm=algorithm,
        actor=ACTOR,
    ).code  # fmt: skip


def test_an_extended_document_verifies_after_the_first_tsa_certificate_expired(
    world: World, algorithm: str, tmp_path: Path
) -> None:
    sealed = world.seal(_seal_code(world, algorithm), Level.B_LTA)
    issued = now_utc()

    world.travel(issued + 9 * YEAR)
    _renew_service_certificates(world, algorithm)
    extender = ArchiveExtender(world.context, world.trust)
    extension = extender.extend(sealed, actor=ACTOR)
    extended = extension.pdf

    assert extended.startswith(sealed)  # an incremental update: the old bytes are untouched
    assert extension.hierarchy == algorithm
    assert extension.signatures == 3
    assert extension.certificates >= 2  # the seal and the first TSA certificate at least
    assert extension.input_sha256 == hashlib.sha256(sealed).hexdigest()
    assert extension.output_sha256 == hashlib.sha256(extended).hexdigest()

    twelve_years = issued + 12 * YEAR  # the first TSA certificate expired at year ten
    report = world.verify(extended, twelve_years)
    assert report.passed, report.to_json()
    kinds = [s.kind for s in report.signatures]
    assert kinds == ["signature", "document_timestamp", "document_timestamp"]
    assert report.signatures[0].best_signature_time <= issued

    untouched = world.verify(sealed, twelve_years)
    assert untouched.signatures[0].indication is AdESStatus.INDETERMINATE, untouched.to_json()

    with world.context.database.session(read_only=True) as session:
        entries = [audit.entry_to_dict(e) for e in audit.query(session, action="archive.extend")]
    assert [e["document_hash"] for e in entries] == [extension.output_sha256]
    assert entries[0]["details"]["input_sha256"] == extension.input_sha256

    if algorithm == "rsa":
        _cross_check_with_poppler_and_openssl(world, extended, tmp_path, issued + 9 * YEAR)


def _cross_check_with_poppler_and_openssl(
    world: World, pdf: bytes, tmp_path: Path, renewed_at: datetime
) -> None:
    """pdfsig: the seal still valid, the renewal covers the whole file (it does not check
    document time-stamps); openssl ts: the new token is over exactly its ByteRange."""
    path = tmp_path / "extended.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    _, seal, _, renewal = out.split("Signature #")
    assert "Signature is Valid." in seal, out
    assert "Total document signed" in renewal and "renewed tsa" in renewal, out

    embedded = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[-1]
    a, b, c, d = embedded.sig_object["/ByteRange"]
    (tmp_path / "range.bin").write_bytes(pdf[a : a + b] + pdf[c : c + d])
    token = cms.ContentInfo.load(bytes(embedded.sig_object["/Contents"]), strict=False)
    (tmp_path / "token.der").write_bytes(token.dump())
    with world.context.database.session(read_only=True) as session:
        ca_set = world.context.ca.ca_set(session, "rsa")
        (tmp_path / "root.pem").write_bytes(certificate_pem(load_certificate(ca_set.root.der)))
        issuing = certificate_pem(load_certificate(ca_set.issuing.der))
        (tmp_path / "issuing.pem").write_bytes(issuing)
    verified = subprocess.run(
        ["openssl", "ts", "-verify", "-token_in", "-in", "token.der", "-data", "range.bin",
         "-CAfile", "root.pem", "-untrusted", "issuing.pem",
         "-attime", str(int((renewed_at + timedelta(days=1)).timestamp()))],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert "Verification: OK" in verified.stdout, verified.stdout + verified.stderr


def test_a_b_t_document_is_lifted_to_b_lta(world: World) -> None:
    sealed = world.seal(_seal_code(world, "rsa"), Level.B_T)
    assert not world.verify(sealed, now_utc()).passed  # offline B-T: no revocation data
    extended = ArchiveExtender(world.context, world.trust).extend(sealed, actor=ACTOR).pdf
    report = world.verify(extended, now_utc())
    assert report.passed, report.to_json()


@pytest.mark.parametrize(
    ("pdf", "message"),
    [
        (b"not a pdf at all", "not a PDF"),
        (chinese_pdf(1), "no seal or time-stamp"),
        (chinese_pdf(1)[:400], "cannot be parsed"),
    ],
    ids=["garbage", "unsigned", "truncated"],
)
def test_bad_input_is_a_clear_error_and_leaves_no_trace(
    world: World, pdf: bytes, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        ArchiveExtender(world.context, world.trust).extend(pdf, actor=ACTOR)
    with world.context.database.session(read_only=True) as session:
        assert not audit.query(session, action="archive.extend")


def test_a_signature_that_cannot_be_read_is_named_in_the_refusal(world: World) -> None:
    """Its CMS bytes zeroed, the PDF still parses but the signature does not: a clear 400
    naming the field (it was an AttributeError, a 500, before)."""
    pdf = certified_no_changes_pdf("rsa")
    start = pdf.index(b"/Contents <") + len(b"/Contents <")
    broken = pdf[:start] + b"0" * 8 + pdf[start + 8 :]
    with pytest.raises(InvalidInput, match=r"signature \S+ cannot be read: the signature data"):
        ArchiveExtender(world.context, world.trust).extend(broken, actor=ACTOR)


def test_an_oversized_file_is_refused_before_it_is_parsed(world: World) -> None:
    too_big = b"%PDF-1.7\n" + bytes(world.context.settings.max_pdf_bytes)
    with pytest.raises(InvalidInput, match="the limit is"):
        ArchiveExtender(world.context, world.trust).extend(too_big, actor=ACTOR)


def test_a_document_of_another_authority_is_not_extended(world: World) -> None:
    """Its revocation data would have to be fetched from addresses the file names."""
    foreign = certified_no_changes_pdf("rsa")  # sealed under the tests' own CA
    with pytest.raises(InvalidInput, match="only its own documents"):
        ArchiveExtender(world.context, world.trust).extend(foreign, actor=ACTOR)


def test_the_cli_writes_the_extended_copy_atomically(world: World, sealctl, tmp_path: Path) -> None:
    sealed = tmp_path / "licence.pdf"
    sealed.write_bytes(world.seal(_seal_code(world, "sm2"), Level.B_LTA))
    out = tmp_path / "archive" / "licence.pdf"
    out.parent.mkdir()
    result = sealctl("archive", "extend", str(sealed), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["output_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert data["signatures"] == 3 and data["hierarchy"] == "sm2"

    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.7\nbroken")
    failed = sealctl("archive", "extend", str(bad), "-o", str(tmp_path / "never.pdf"))
    assert failed.exit_code == 1
    assert "Traceback" not in failed.output
    assert not (tmp_path / "never.pdf").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["licence.pdf"]  # no temporaries
