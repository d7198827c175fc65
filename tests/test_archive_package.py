"""Archive information packages (归档信息包): export, then re-verify alone, offline, years later.

Real CAs, seals, TSA and SQLite database; PDF (B-LTA, RSA) and OFD (B-T, SM2) licences.
The offline checks run after the service is closed and its data directory deleted, with
the clock years ahead; tampered packages (a changed, removed or added file, a manifest
re-sealed with another key, a ZIP with ``../``) fail with the reason.  Cross-checked with
OpenSSL (SM3/SHA-256 digests of the manifest, the archive seal's SM2 signature value).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from asn1crypto import x509
from helpers.pdf_fixtures import chinese_pdf
from helpers.sm2_crosscheck import openssl_sm2_verifies
from helpers.time_fixtures import ACTOR, YEAR, World
from lxml import etree

from pki import ses
from pki.clock import now_utc
from pki.sm2 import sm3
from sealsvc import audit, seals, ses_signing
from sealsvc.archive.archive_seal import ARCHIVE_SEAL_KIND, ARCHIVE_SEAL_TEXT
from sealsvc.archive.audit_trail import check_trail
from sealsvc.archive.import_check import import_check
from sealsvc.archive.manifest import MANIFEST, SEAL_FILE
from sealsvc.archive.package import PackageExporter
from sealsvc.errors import SealNotUsable
from sealsvc.licences import issue_licence, load_template
from sealsvc.pades import Level

pytest_plugins = ("helpers.seal_fixtures", "helpers.time_fixtures")  # seal_context, world

MARKET = "郑州市市场监督管理局"


@pytest.fixture
def world_with_pems(world: World) -> World:
    """The world, with the CA PEM files the service's verifier reads its anchors from."""
    with world.context.database.session(read_only=True) as session:
        world.context.ca.export_files(session)
    return world


def _licence(world: World, file_format: str) -> str:
    algorithm = "sm2" if file_format == "ofd" else "rsa"
    code = seals.issue(
        world.context, department=MARKET, kind="公章", algorithm=algorithm, actor=ACTOR
    ).code
    template = load_template("business_licence")
    return issue_licence(
        world.context, template, template.example, [code], actor=ACTOR, file_format=file_format
    ).number


def _files(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def _failed(report) -> dict[str, str]:
    return {c.name: c.reason for c in report.checks if not c.passed}


def _check_report_pdf(pdf: bytes, tmp_path: Path, number: str) -> None:
    """poppler reads the human report: Chinese text, the record, the verdict; page 1 is
    rendered (``report-1.png`` under the test's tmp dir, to look at)."""
    (tmp_path / "report.pdf").write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", "report.pdf", "-"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "电子档案验证报告" in text and f"{number}-v1" in text and "通过" in text, text
    fonts = subprocess.run(
        ["pdffonts", "report.pdf"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert "yes" in fonts.splitlines()[-1].split()[-5:-2], fonts  # embedded
    subprocess.run(
        ["pdftoppm", "-r", "70", "-f", "1", "-l", "1", "-png", "report.pdf", "report"],
        cwd=tmp_path, check=True,
    )  # fmt: skip


@pytest.mark.parametrize("file_format", ["pdf", "ofd"])
def test_an_exported_licence_checks_offline_years_later_with_the_data_dir_gone(
    world_with_pems: World, file_format: str, tmp_path: Path
) -> None:
    world = world_with_pems
    number = _licence(world, file_format)
    exported = PackageExporter(world.context, world.trust).export_licence(number, actor=ACTOR)
    assert exported.accepted and exported.record == f"{number}-v1"
    files = _files(exported.data)
    document = f"document/{number}-v1.{file_format}"
    assert document in files
    expected = {"report/verification.json", "report/verification.pdf", "audit/trail.json",
                "metadata/metadata.xml", MANIFEST, SEAL_FILE, "seal/evidence.json"}  # fmt: skip
    assert expected <= set(files)
    assert any(p.startswith("evidence/timestamps/") for p in files)
    assert any(p.startswith("evidence/trust/") for p in files)
    _check_report_pdf(files["report/verification.pdf"], tmp_path, number)
    metadata = files["metadata/metadata.xml"].decode()
    assert f">{number}<" in metadata and "GB/T 36903-2018" in metadata

    with world.context.database.session(read_only=True) as session:
        entries = audit.query(session, limit=3)
    assert [e.action for e in entries][-2:] == ["seal.use", "archive.export"]
    assert entries[-2].details.count(f"{number}-v1") == 1  # the archive seal's use names it
    assert entries[-1].document_hash == hashlib.sha256(files[document]).hexdigest()

    # The service is gone: database, keys, CA files, licences; the clock is 5 years on.
    world.context.close()
    shutil.rmtree(world.context.settings.data_dir)
    report = import_check(exported.data, now=now_utc() + 5 * YEAR)
    assert report.passed, report.to_dict()
    names = ["container", "archive_seal", "files", "document", "audit_trail"]
    if file_format == "pdf":
        names.insert(4, "pdfa_claim")
        assert report.checks[4].reason == "PDF/A-2B: the file meets the claim"
    assert [c.name for c in report.checks] == names
    assert report.record == f"{number}-v1"
    assert report.document is not None and report.document.passed


@pytest.fixture
def pdf_package(world_with_pems: World) -> tuple[World, bytes]:
    world = world_with_pems
    number = _licence(world, "pdf")
    return world, PackageExporter(world.context, world.trust).export_licence(
        number, actor=ACTOR
    ).data


def test_a_changed_file_fails_with_its_name(pdf_package: tuple[World, bytes]) -> None:
    _, package = pdf_package
    files = _files(package)
    report_json = json.loads(files["report/verification.json"])
    report_json["verdict"] = "TOTAL_PASSED (edited)"
    files["report/verification.json"] = json.dumps(report_json).encode()
    failed = _failed(import_check(_zip(files)))
    assert list(failed) == ["files"]
    assert "report/verification.json does not match" in failed["files"]


def test_a_removed_and_an_added_file_fail(pdf_package: tuple[World, bytes]) -> None:
    _, package = pdf_package
    files = _files(package)
    removed = next(p for p in files if p.startswith("evidence/timestamps/"))
    del files[removed]
    files["evidence/crls/extra.crl"] = b"not a crl"
    failed = _failed(import_check(_zip(files)))
    assert f"{removed} is missing (removed)" in failed["files"]
    assert "evidence/crls/extra.crl is not in the manifest (added)" in failed["files"]


def test_a_removed_document_fails_the_document_check_too(pdf_package: tuple[World, bytes]) -> None:
    _, package = pdf_package
    files = {p: d for p, d in _files(package).items() if not p.startswith("document/")}
    failed = _failed(import_check(_zip(files)))
    assert set(failed) == {"files", "document", "audit_trail"}
    assert "is missing" in failed["document"]


def test_a_manifest_resealed_with_another_seal_fails(pdf_package: tuple[World, bytes]) -> None:
    """Someone swaps a file, rewrites the manifest and seals it with a seal of the same
    service (so the path is trusted): not the archive seal, refused."""
    world, package = pdf_package
    files = _files(package)
    files["report/verification.json"] = b'{"verdict": "forged"}'
    root = etree.fromstring(files[MANIFEST])
    for element in root:
        if element.get("path") == "report/verification.json":
            element.set("sha256", hashlib.sha256(b'{"verdict": "forged"}').hexdigest())
            element.set("sm3", sm3(b'{"verdict": "forged"}').hex())
            element.set("size", str(len(b'{"verdict": "forged"}')))
    manifest = etree.tostring(root, encoding="UTF-8", xml_declaration=True)
    files[MANIFEST] = manifest
    other = seals.issue(
        world.context, department=MARKET, kind="公章", algorithm="sm2", actor=ACTOR
    ).code
    files[SEAL_FILE] = ses_signing.sign_hash(
        world.context, other, sm3(manifest), "manifest.xml", timestamp=True, actor=ACTOR
    ).der
    failed = _failed(import_check(_zip(files)))
    assert list(failed) == ["archive_seal"]
    assert "not the archive seal" in failed["archive_seal"]

    files[SEAL_FILE] = _files(package)[SEAL_FILE]  # the genuine seal over the old manifest
    failed = _failed(import_check(_zip(files)))
    assert list(failed) == ["archive_seal"]


def test_hostile_zips_are_refused_with_the_reason(tmp_path: Path) -> None:
    traversal = _zip({"../evil.txt": b"x", MANIFEST: b"<x/>"})
    (check,) = import_check(traversal).checks
    assert not check.passed and "has an empty, '.' or '..' component" in check.reason
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("document/big.pdf", b"\0" * (80 * 1024 * 1024))
    (check,) = import_check(bomb.getvalue()).checks
    assert not check.passed and "archive package entry" in check.reason
    (check,) = import_check(b"not a zip").checks
    assert not check.passed and "not a readable archive package" in check.reason


def test_the_archive_seal_cross_checked_with_openssl(
    pdf_package: tuple[World, bytes], tmp_path: Path
) -> None:
    """OpenSSL recomputes the manifest's digests of every file and checks the archive
    seal's SM2 signature over its TBS_Sign; the seal is the city archive's 归档 seal."""
    _, package = pdf_package
    files = _files(package)
    signature = ses.parse_signature(files[SEAL_FILE])
    assert signature.seal.name == ARCHIVE_SEAL_TEXT + ARCHIVE_SEAL_KIND
    assert signature.data_hash == sm3(files[MANIFEST])
    assert signature.time_stamp_token is not None
    certificate = x509.Certificate.load(signature.signer_certificate)
    assert openssl_sm2_verifies(certificate.public_key, signature.signed_bytes, signature.signature)
    for element in etree.fromstring(files[MANIFEST]):
        path = tmp_path / "file"
        path.write_bytes(files[element.get("path")])
        for algorithm in ("sm3", "sha256"):
            out = subprocess.run(
                ["openssl", "dgst", f"-{algorithm}", "-r", str(path)],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            assert out.split()[0] == element.get(algorithm), element.get("path")


def test_the_cli_exports_a_licence_and_a_file_and_checks_them(
    world_with_pems: World, sealctl, tmp_path: Path
) -> None:
    world = world_with_pems
    number = _licence(world, "pdf")
    package = tmp_path / "licence.zip"
    result = sealctl("archive", "export", number, "-o", str(package), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["record"] == f"{number}-v1" and summary["accepted"] is True
    assert hashlib.sha256(package.read_bytes()).hexdigest() == summary["package_sha256"]

    ca_dir = world.context.settings.ca_dir
    roots = [arg for h in ("rsa", "sm2") for arg in ("--trust", str(ca_dir / f"{h}-root.pem"))]
    result = sealctl("archive", "import-check", *roots, str(package))
    assert result.exit_code == 0, result.output
    assert "✓ archive_seal: sealed by 郑州市档案馆归档业务专用章" in result.output
    assert f"PASSED {number}-v1" in result.output

    sealed_file = tmp_path / "sealed.pdf"
    sealed_file.write_bytes(world.seal(world.issue_seal(), Level.B_LTA))
    result = sealctl("archive", "export", str(sealed_file), "-o", str(tmp_path / "file.zip"))
    assert result.exit_code == 0, result.output
    result = sealctl("archive", "import-check", "--json", str(tmp_path / "file.zip"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["passed"] is True

    files = _files(package.read_bytes())
    files["metadata/metadata.xml"] += b"<!-- edited -->"
    (tmp_path / "tampered.zip").write_bytes(_zip(files))
    result = sealctl("archive", "import-check", "--json", str(tmp_path / "tampered.zip"))
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.output)["checks"]}
    assert not checks["files"]["passed"] and "metadata/metadata.xml" in checks["files"]["reason"]

    result = sealctl("archive", "export", "NOSUCH000001", "-o", str(tmp_path / "x.zip"))
    assert result.exit_code == 1 and "no licence NOSUCH000001" in result.output
    assert not (tmp_path / "x.zip").exists()
    unsealed = tmp_path / "plain.pdf"
    unsealed.write_bytes(chinese_pdf(1))
    result = sealctl("archive", "export", str(unsealed), "-o", str(tmp_path / "y.zip"))
    assert result.exit_code == 1 and "is not a sealed PDF or OFD" in result.output


def test_export_and_check_on_each_database(seal_context, tmp_path: Path) -> None:
    """The trail query (entries naming the number in their JSON details) and the anchor
    (the whole log verified) on SQLite and PostgreSQL alike."""
    with seal_context.database.session(read_only=True) as session:
        seal_context.ca.export_files(session)
    code = seals.issue(
        seal_context, department=MARKET, kind="公章", algorithm="sm2", actor=ACTOR
    ).code
    template = load_template("business_licence")
    number = issue_licence(
        seal_context, template, template.example, [code], actor=ACTOR, file_format="ofd"
    ).number
    exported = PackageExporter(seal_context).export_licence(number, actor=ACTOR)
    trail = json.loads(_files(exported.data)["audit/trail.json"])
    actions = {e["seq"]: e["action"] for e in trail["entries"]}
    assert [actions[seq] for seq in trail["record_seqs"]] == ["seal.use", "licence.issue"]
    assert trail["runs"] == [[trail["entries"][0]["seq"], trail["entries"][-1]["seq"]]]
    assert trail["anchor"]["log_intact"] is True
    assert trail["anchor"]["head_seq"] >= trail["entries"][-1]["seq"]
    assert import_check(exported.data).passed


def test_a_suspended_archive_seal_refuses_the_export_audited(world_with_pems: World) -> None:
    world = world_with_pems
    number = _licence(world, "pdf")
    exporter = PackageExporter(world.context, world.trust)
    first = exporter.export_licence(number, actor=ACTOR)
    seals.suspend(world.context, first.archive_seal, actor=ACTOR)
    with pytest.raises(SealNotUsable, match="suspended"):
        exporter.export_licence(number, actor=ACTOR)
    with world.context.database.session(read_only=True) as session:
        (entry,) = audit.query(session, limit=1)
    assert entry.action == "seal.refused" and entry.seal_code == first.archive_seal


GARBAGE = [
    b"", b"\0" * 64, b"{", b"[1, 2]", b"<x/>", b"<?xml version='1.0'?><!DOCTYPE x []><x/>",
    b'{"entries": [{"seq": "1"}], "record_seqs": [1], "anchor": {"head_seq": 1}}',
    b'{"revocation": [{"url": 1}], "certificates": ["!"]}', b'[{"url": "x", "request": 5}]',
]  # fmt: skip


def test_garbage_in_any_file_or_byte_is_a_failed_check_never_a_crash(
    pdf_package: tuple[World, bytes],
) -> None:
    _, package = pdf_package
    files = _files(package)
    document = next(p for p in files if p.startswith("document/"))
    paths = [MANIFEST, SEAL_FILE, "seal/evidence.json", "audit/trail.json", document]
    for path in [*paths, "evidence/revocation.json"]:
        for garbage in GARBAGE:
            report = import_check(_zip({**files, path: garbage}))
            assert not report.passed, (path, garbage)
    for offset in range(0, len(package), max(1, len(package) // 40)):
        damaged = bytearray(package)
        damaged[offset] ^= 0xFF
        report = import_check(bytes(damaged))
        assert report.checks and all(c.reason for c in report.checks)


def test_the_trail_holds_runs_around_the_record_not_years_between(
    world_with_pems: World,
) -> None:
    """Issue, 100 other audited acts, export: two runs; an entry cut from a run, or an
    entry edited, fails the trail check with the reason."""
    world = world_with_pems
    number = _licence(world, "pdf")
    for _ in range(100):
        with world.context.database.session() as session:
            audit.append(session, action="test.other", actor=ACTOR, details={"n": 1})
    exporter = PackageExporter(world.context, world.trust)
    exporter.export_licence(number, actor=ACTOR)
    files = _files(exporter.export_licence(number, actor=ACTOR).data)
    trail = json.loads(files["audit/trail.json"])
    assert len(trail["runs"]) == 2
    assert not any(e["action"] == "test.other" for e in trail["entries"])
    assert import_check(_zip(files)).passed  # two runs check as well as one
    cut = {**trail, "entries": trail["entries"][:1] + trail["entries"][2:]}
    problems = check_trail(json.dumps(cut).encode(), {trail["entries"][0]["document_hash"]})
    assert "the audit entries do not cover their runs of the chain (entries missing)" in problems
    edited = json.loads(json.dumps(trail))
    edited["entries"][0]["actor"] = "someone else"
    problems = check_trail(json.dumps(edited).encode(), set())
    assert any("does not match its hash (modified)" in p for p in problems)


def test_every_evidence_file_is_read_by_openssl(pdf_package: tuple[World, bytes], tmp_path: Path):
    """The claim of the docs: certificates, CRLs, OCSP answers and time-stamp tokens in
    the package are plain DER that openssl reads without a PDF or SES parser."""
    _, package = pdf_package
    commands = {
        ".cer": ["openssl", "x509", "-inform", "DER", "-noout", "-subject", "-in"],
        ".crl": ["openssl", "crl", "-inform", "DER", "-noout", "-issuer", "-in"],
        ".ocsp": ["openssl", "ocsp", "-noverify", "-resp_text", "-respin"],
        ".tst": ["openssl", "ts", "-reply", "-token_in", "-text", "-in"],
    }
    seen = set()
    for path, data in _files(package).items():
        suffix = Path(path).suffix
        if not path.startswith("evidence/") or suffix not in commands:
            continue
        (tmp_path / "item").write_bytes(data)
        run = subprocess.run(
            [*commands[suffix], str(tmp_path / "item")], capture_output=True, text=True
        )
        assert run.returncode == 0, (path, run.stderr)
        seen.add(suffix)
    assert seen == set(commands)


def test_a_file_name_from_outside_is_made_safe_for_the_package(world_with_pems: World) -> None:
    world = world_with_pems
    sealed = world.seal(world.issue_seal(), Level.B_LTA)
    exported = PackageExporter(world.context, world.trust).export_file(
        sealed, "../合同 2026\n.pdf", actor=ACTOR
    )
    assert "document/合同_2026_.pdf" in _files(exported.data)
    assert import_check(exported.data).passed
