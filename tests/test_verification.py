"""Verification reports over a corpus of sealed, tampered and foreign PDFs (RSA and SM2).

Every case is built here from the test PKI (:mod:`pki_fixtures`), the production sealing
code (:func:`sealsvc.pades.seal_pdf`) and the in-process TSA / OCSP / CRLs of
:mod:`verify_corpus`.  Verdicts on RSA files are cross-checked against tools nobody here
wrote: pyHanko's own validator and poppler's ``pdfsig``; a PDF signed by pyHanko's CLI with
an openssl-made CA checks that foreign signatures are judged too.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
import pytest
from asn1crypto import cms
from helpers.pdf_fixtures import certified_no_changes_pdf, chinese_pdf
from helpers.pki_fixtures import issue_leaf, openssl
from helpers.verify_corpus import append_page_content_update, services_for
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from pki.pdf_signer import KeyHandleSigner
from sealsvc.pades import Level, Placement
from sealsvc.verification import (
    JSON_SCHEMA,
    SCHEMA_ID,
    DocumentVerdict,
    RegistryMatch,
    TrustAnchors,
    verify,
)

PASSED, INDETERMINATE, FAILED = (
    DocumentVerdict.TOTAL_PASSED,
    DocumentVerdict.INDETERMINATE,
    DocumentVerdict.TOTAL_FAILED,
)


def _now() -> datetime:
    return datetime.now(UTC)


def check(report, verdict, sub=None):
    assert (report.verdict, report.sub_indication) == (verdict, sub), report.to_json()
    return report


@pytest.fixture(scope="module")
def rsa():
    return services_for("rsa")


@pytest.fixture(scope="module")
def sm2():
    return services_for("sm2")


@pytest.fixture(scope="module")
def rsa_files(rsa):
    return {level: rsa.seal(level=level) for level in Level}


@pytest.fixture(scope="module")
def sm2_files(sm2):
    return {level: sm2.seal(level=level) for level in Level}


class Family(NamedTuple):
    """One key family's services and sealed files: the tests taking it run for both."""

    name: str
    services: Any
    files: dict[Level, bytes]


@pytest.fixture(params=["rsa", "sm2"])
def family(request: pytest.FixtureRequest) -> Family:
    name = request.param
    return Family(name, request.getfixturevalue(name), request.getfixturevalue(f"{name}_files"))


# --- valid seals, level by level ------------------------------------------------------------


@pytest.mark.parametrize("level", [Level.B_LT, Level.B_LTA])
def test_long_term_levels_pass_offline(family, level):
    services, files = family.services, family.files
    report = check(verify(files[level], trust=services.trust), PASSED)
    seal = report.signatures[0]
    assert seal.revocation.source == "dss"
    assert seal.timestamp.valid and seal.best_signature_time is not None
    assert seal.signer.algorithm == family.name.upper()
    assert seal.chain.validator == "pyhanko-certvalidator"  # one engine for every family
    if level is Level.B_LTA:
        assert [s.kind for s in report.signatures] == ["signature", "document_timestamp"]


@pytest.mark.parametrize("level", [Level.B_B, Level.B_T])
def test_short_levels_need_revocation_data(family, level):
    """B-B/B-T carry no revocation data: offline that is TRY_LATER (as DSS says); with the
    CRL/OCSP URLs reachable the seal passes."""
    services, files = family.services, family.files
    check(verify(files[level], trust=services.trust), INDETERMINATE, AdESIndeterminate.TRY_LATER)
    report = check(
        verify(files[level], trust=services.trust, allow_fetching=True, fetcher=services.fetch),
        PASSED,
    )
    assert report.signatures[0].revocation.source == "fetched"
    assert (report.signatures[0].timestamp is not None) == (level is Level.B_T)


def test_who_and_citizen_sentence(rsa, rsa_files):
    report = verify(rsa_files[Level.B_LTA], trust=rsa.trust)
    seal = report.signatures[0]
    assert seal.signer.common_name == "深圳市市场监督管理局行政审批专用章"
    assert seal.signer.organizational_unit == "行政审批处"
    assert seal.signer.organization == "深圳市市场监督管理局"
    assert seal.signer.serial_hex == f"{rsa.hierarchy.seal.serial_number:x}"
    beijing = seal.best_signature_time.astimezone(timezone(timedelta(hours=8)))
    assert report.sentence == (
        f"本文件由深圳市市场监督管理局于 {beijing:%Y-%m-%d %H:%M} 加盖电子印章，"
        "盖章后未被修改，印章有效。"
    )


def test_json_follows_the_schema(rsa, rsa_files):
    for pdf in (rsa_files[Level.B_LTA], b"not a pdf", chinese_pdf(1)):
        data = json.loads(verify(pdf, trust=rsa.trust).to_json())
        assert data["schema"] == SCHEMA_ID
        jsonschema.validate(data, JSON_SCHEMA)


def test_unsigned_document(rsa):
    report = check(verify(chinese_pdf(1), trust=rsa.trust), DocumentVerdict.NOT_SIGNED)
    assert report.signatures == () and report.sentence == "本文件未加盖电子印章。"


# --- tampering -------------------------------------------------------------------------------


def test_flipped_byte_in_signed_range(family):
    services, files = family.services, family.files
    pdf = files[Level.B_LT]
    at = pdf.index(b"ReportLab") + 1
    tampered = pdf[:at] + b"r" + pdf[at + 1 :]
    report = check(verify(tampered, trust=services.trust), FAILED, AdESFailure.HASH_FAILURE)
    assert not report.signatures[0].integrity.digest_matches
    assert "篡改" in report.sentence


def test_appended_page_content_change(family):
    services, files = family.services, family.files
    forged = append_page_content_update(files[Level.B_LT])
    report = check(verify(forged, trust=services.trust), FAILED, AdESFailure.HASH_FAILURE)
    seal = report.signatures[0]
    assert seal.integrity.digest_matches and seal.integrity.signature_valid
    assert seal.modifications.level == "OTHER" and not seal.modifications.allowed


def test_joint_seal_is_an_allowed_change(rsa):
    second, key = issue_leaf(rsa.hierarchy, common_name="深圳市市场监督管理局合同专用章")
    first = rsa.seal(level=Level.B_LT)
    joint = rsa.seal(
        first, level=Level.B_LT, certificate=second, key=key, placement=Placement(x_mm=60, y_mm=60)
    )
    report = check(verify(joint, trust=rsa.trust), PASSED)
    earlier, later = report.signatures
    assert earlier.modifications.level == "FORM_FILLING" and earlier.modifications.allowed
    assert later.modifications.level in ("NONE", "LTA_UPDATES")
    assert "2 枚电子印章" in report.sentence


def test_docmdp_violation(rsa, monkeypatch):
    """A second seal on a document certified with P=1 (no changes), added by a careless
    tool: pyHanko's signer refuses, so its certification lookup is switched off here."""
    monkeypatch.setattr("pyhanko.sign.validation.read_certification_data", lambda reader: None)
    h = rsa.hierarchy
    signer = KeyHandleSigner(h.seal_key, h.seal, [h.issuing])
    meta = signers.PdfSignatureMetadata(field_name="Later", subfilter=fields.SigSeedSubFilter.PADES)
    writer = IncrementalPdfFileWriter(io.BytesIO(certified_no_changes_pdf("rsa")))
    pdf = signers.PdfSigner(meta, signer).sign_pdf(writer).getvalue()
    monkeypatch.undo()
    report = verify(pdf, trust=rsa.trust, allow_fetching=True, fetcher=rsa.fetch)
    certification, later = report.signatures
    assert certification.modifications.certification
    assert certification.modifications.level == "FORM_FILLING"
    assert certification.modifications.docmdp == 1 and not certification.modifications.allowed
    assert certification.sub_indication is AdESIndeterminate.SIG_CONSTRAINTS_FAILURE
    assert later.passed
    check(report, INDETERMINATE, AdESIndeterminate.SIG_CONSTRAINTS_FAILURE)


# --- trust, time, revocation -------------------------------------------------------------------


def test_unknown_ca(rsa, sm2, rsa_files, sm2_files):
    check(
        verify(rsa_files[Level.B_LT], trust=sm2.trust),
        INDETERMINATE,
        AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND,
    )
    ecdsa = services_for("ecdsa")
    report = check(
        verify(ecdsa.seal(level=Level.B_LT), trust=rsa.trust + sm2.trust),
        INDETERMINATE,
        AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND,
    )
    assert "受信任" in report.sentence and report.signatures[0].signer.algorithm == "ECDSA"


@pytest.fixture(scope="module", params=["rsa", "sm2"])
def short_lived(request):
    services = services_for(request.param)
    cert, key = issue_leaf(services.hierarchy, not_after=_now() + timedelta(days=1))
    files = {lvl: services.seal(level=lvl, certificate=cert, key=key) for lvl in Level}
    return services, files


def test_expired_certificate_without_timestamp(short_lived):
    services, files = short_lived
    later = _now() + timedelta(days=30)
    report = verify(
        files[Level.B_B],
        trust=services.trust,
        now=later,
        allow_fetching=True,
        fetcher=services.fetch,
    )
    check(report, INDETERMINATE, AdESIndeterminate.OUT_OF_BOUNDS_NO_POE)
    assert "过期" in report.sentence


@pytest.mark.parametrize("level", [Level.B_LT, Level.B_LTA])
def test_expired_certificate_with_timestamp_passes(short_lived, level):
    services, files = short_lived
    later = _now() + timedelta(days=30)
    report = check(verify(files[level], trust=services.trust, now=later), PASSED)
    seal = report.signatures[0]
    assert seal.chain.validated_at == seal.best_signature_time < seal.signer.not_after < later


def test_revoked_before_signing(family):
    services = family.services
    cert, key = issue_leaf(services.hierarchy, common_name="已吊销专用章")
    services.revoke(cert, _now() - timedelta(hours=1))
    pdf = services.seal(level=Level.B_LT, certificate=cert, key=key)
    report = check(verify(pdf, trust=services.trust), FAILED, AdESFailure.REVOKED)
    assert report.signatures[0].revocation.reason == "key_compromise"


def test_revoked_after_timestamped_signing(family):
    services = family.services
    cert, key = issue_leaf(services.hierarchy, common_name="后吊销专用章")
    stamped = services.seal(level=Level.B_T, certificate=cert, key=key)
    untimed = services.seal(level=Level.B_B, certificate=cert, key=key)
    services.revoke(cert, _now() + timedelta(seconds=2))
    online = {
        "allow_fetching": True,
        "fetcher": services.fetch,
        "now": _now() + timedelta(days=1),
    }
    report = check(verify(stamped, trust=services.trust, **online), PASSED)
    assert report.signatures[0].revocation.status == "revoked"
    check(
        verify(untimed, trust=services.trust, **online),
        INDETERMINATE,
        AdESIndeterminate.REVOKED_NO_POE,
    )


def test_rotated_seal_keeps_old_documents_valid(rsa):
    old, key = issue_leaf(rsa.hierarchy, common_name="深圳市市场监督管理局行政审批专用章")
    pdf = rsa.seal(level=Level.B_LTA, certificate=old, key=key)
    lookups = []

    def registry(sha256: str) -> RegistryMatch | None:
        lookups.append(sha256)
        return RegistryMatch("44030000000001", "active", "superseded")

    report = check(verify(pdf, trust=rsa.trust, registry_lookup=registry), PASSED)
    assert report.signatures[0].registry.certificate_status == "superseded"
    assert report.signatures[0].signer.sha256 in lookups


def test_suspended_seal_is_try_later(family):
    """On hold now, not at signing: DSS's CertificateOnHoldCheck → INDETERMINATE/TRY_LATER."""
    services = family.services
    cert, key = issue_leaf(services.hierarchy, common_name="暂停专用章")
    pdf = services.seal(level=Level.B_LT, certificate=cert, key=key)
    services.revoke(cert, _now() + timedelta(seconds=2), reason="certificate_hold")
    report = check(
        verify(
            pdf,
            trust=services.trust,
            allow_fetching=True,
            fetcher=services.fetch,
            now=_now() + timedelta(days=1),
        ),
        INDETERMINATE,
        AdESIndeterminate.TRY_LATER,
    )
    assert report.signatures[0].revocation.status == "on_hold"
    assert "挂起" in report.sentence


# --- bad input ----------------------------------------------------------------------------------


def _replace_cms(pdf: bytes, change) -> bytes:
    start = pdf.index(b"/Contents <") + len(b"/Contents <")
    end = pdf.index(b">", start)
    der = bytes.fromhex(pdf[start:end].decode())
    new = change(der).hex().encode()
    assert len(new) <= end - start
    return pdf[:start] + new.ljust(end - start, b"0") + pdf[end:]


def test_corrupt_cms(rsa, rsa_files):
    pdf = _replace_cms(rsa_files[Level.B_LT], lambda der: b"\x30\x03\x02\x01" + der[4:40])
    report = check(verify(pdf, trust=rsa.trust), FAILED, AdESFailure.FORMAT_FAILURE)
    assert report.signatures[0].signer is None


def test_unknown_signature_algorithm(family):
    """The SignerInfo's signatureAlgorithm OID changed in place to an arc nobody assigned."""

    def change(der: bytes) -> bytes:
        signer_info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
        attrs = signer_info["signed_attrs"].dump()
        algorithm = signer_info["signature_algorithm"].dump()
        at = der.index(algorithm, der.index(attrs) + len(attrs))
        oid_end = at + 2 + algorithm[3]  # SEQUENCE header, OID tag + length, OID content
        return der[: oid_end + 1] + b"\x7f" + der[oid_end + 2 :]

    services, files = family.services, family.files
    pdf = _replace_cms(files[Level.B_LT], change)
    report = check(verify(pdf, trust=services.trust), FAILED, AdESFailure.FORMAT_FAILURE)
    assert "unknown signature algorithm" in report.message


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_truncated_file(rsa, rsa_files, cut):
    pdf = rsa_files[Level.B_LTA]
    report = verify(pdf[: int(len(pdf) * cut)], trust=rsa.trust)
    assert report.verdict is FAILED, report.to_json()


@pytest.mark.parametrize("data", [b"", b"hello", b"%PDF-1.7\n garbage", bytes(range(256)) * 10])
def test_not_a_pdf(rsa, data):
    report = check(verify(data, trust=rsa.trust), FAILED, AdESFailure.FORMAT_FAILURE)
    assert report.signatures == () and "PDF" in report.sentence


def test_random_corruption_never_raises(sm2, sm2_files):
    """Bytes overwritten anywhere in an SM2 B-LTA file: always a report, never an exception."""
    rng = random.Random(20261123)
    pdf = sm2_files[Level.B_LTA]
    for _ in range(25):
        data = bytearray(pdf)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        report = verify(bytes(data), trust=sm2.trust)
        assert report.verdict in DocumentVerdict


# --- foreign signers and independent verdicts --------------------------------------------------


@pytest.fixture(scope="module")
def foreign(tmp_path_factory):
    """A PDF signed by pyHanko's own CLI with a throwaway CA made by openssl."""
    if shutil.which("pyhanko") is None:
        pytest.skip("pyhanko CLI (pyhanko-cli) not installed")
    d = tmp_path_factory.mktemp("foreign")
    assert openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d / "ca.key",
                   "-out", d / "ca.pem", "-days", "30", "-subj", "/CN=Throwaway CA",
                   "-addext", "basicConstraints=critical,CA:TRUE",
                   "-addext", "keyUsage=critical,keyCertSign,cRLSign").returncode == 0  # fmt: skip
    assert openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", d / "signer.key",
                   "-out", d / "signer.csr",
                   "-subj", "/O=Foreign Org/CN=Foreign Signer").returncode == 0  # fmt: skip
    (d / "ext.cnf").write_text("keyUsage=critical,digitalSignature,nonRepudiation\n")
    assert openssl("x509", "-req", "-in", d / "signer.csr", "-CA", d / "ca.pem", "-CAkey",
                   d / "ca.key", "-CAcreateserial", "-out", d / "signer.pem", "-days", "10",
                   "-extfile", d / "ext.cnf").returncode == 0  # fmt: skip
    (d / "in.pdf").write_bytes(chinese_pdf(1))
    run = subprocess.run(
        ["pyhanko", "sign", "addsig", "--field", "Sig1", "pemder", "--key", d / "signer.key",
         "--cert", d / "signer.pem", "--chain", d / "ca.pem", "--no-pass", d / "in.pdf",
         d / "out.pdf"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return (d / "out.pdf").read_bytes(), TrustAnchors.from_files([d / "ca.pem"])


def test_pdf_signed_by_pyhanko_cli(rsa, foreign):
    pdf, anchors = foreign
    report = check(verify(pdf, trust=anchors), INDETERMINATE, AdESIndeterminate.TRY_LATER)
    seal = report.signatures[0]
    assert seal.integrity.digest_matches and seal.integrity.signature_valid and seal.chain.trusted
    assert seal.signer.common_name == "Foreign Signer" and seal.revocation.status == "unknown"
    check(verify(pdf, trust=rsa.trust), INDETERMINATE, AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND)
    at = pdf.index(b"ReportLab") + 1
    check(verify(pdf[:at] + b"r" + pdf[at + 1 :], trust=anchors), FAILED, AdESFailure.HASH_FAILURE)


def _pyhanko_intact(pdf: bytes, rsa) -> list[bool]:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    out = []
    for sig in reader.embedded_signatures:
        status = validate_pdf_signature(
            sig, ValidationContext(trust_roots=[rsa.hierarchy.root], allow_fetching=False)
        )
        out.append(bool(status.intact and status.valid and status.docmdp_ok))
    return out


@pytest.fixture(scope="module")
def rsa_cases(rsa, rsa_files):
    pdf = rsa_files[Level.B_LT]
    at = pdf.index(b"ReportLab") + 1
    return {
        "valid": (pdf, True),
        "flipped": (pdf[:at] + b"r" + pdf[at + 1 :], False),
        "page_changed": (append_page_content_update(pdf), False),
    }


@pytest.mark.parametrize("name", ["valid", "flipped", "page_changed"])
def test_agrees_with_pyhanko_validator(rsa, rsa_cases, name):
    pdf, intact = rsa_cases[name]
    ours = verify(pdf, trust=rsa.trust).signatures[0]
    theirs = _pyhanko_intact(pdf, rsa)[0]
    assert theirs == intact == (ours.sub_indication is not AdESFailure.HASH_FAILURE)


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils not installed")
@pytest.mark.parametrize("name", ["valid", "flipped"])
def test_agrees_with_pdfsig(rsa, rsa_cases, tmp_path: Path, name):
    pdf, intact = rsa_cases[name]
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    output = subprocess.run(
        ["pdfsig", "-nocert", path], capture_output=True, text=True, timeout=60, check=False
    ).stdout
    pdfsig_intact = "Signature is Valid" in output
    assert pdfsig_intact == intact, output
    ours = verify(pdf, trust=rsa.trust).signatures[0]
    assert (ours.sub_indication is not AdESFailure.HASH_FAILURE) == pdfsig_intact


# --- the command line ----------------------------------------------------------------------------


def test_cli_verify(rsa, rsa_files, tmp_path: Path):
    from typer.testing import CliRunner

    from pki.certificates import certificate_pem
    from sealsvc.cli.main import app

    (tmp_path / "root.pem").write_bytes(certificate_pem(rsa.hierarchy.root))
    (tmp_path / "ok.pdf").write_bytes(rsa_files[Level.B_LTA])
    (tmp_path / "bad.pdf").write_bytes(b"not a pdf")
    base = ["--data-dir", str(tmp_path / "data"), "verify"]
    runner = CliRunner()
    ok = runner.invoke(
        app, [*base, "--trust", str(tmp_path / "root.pem"), str(tmp_path / "ok.pdf")]
    )
    assert ok.exit_code == 0, ok.output
    assert "TOTAL_PASSED" in ok.output and "深圳市市场监督管理局" in ok.output
    as_json = runner.invoke(app, [*base, "--json", str(tmp_path / "ok.pdf")])  # no anchors
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    bad = runner.invoke(app, [*base, str(tmp_path / "bad.pdf")])
    assert bad.exit_code == 1 and "FORMAT_FAILURE" in bad.output
    missing = runner.invoke(app, [*base, str(tmp_path / "missing.pdf")])
    assert missing.exit_code == 1 and "cannot read" in missing.output
