"""Licences issued as OFD: rendered, sealed at issue by their seals, stored and served.

Real CAs, SM2 seals, TSA and database (SQLite, and PostgreSQL where the fixture runs both).
Each sealed file is checked with our container check (every ``Reference`` digest) and the
SES layers (:func:`pki.ses.check_signature`, the service's SES verifier with our CAs), and
where ``shared/ofdrw`` exists beside the repository with ofdrw's ``ofd_check``. A licence
keeps its format through re-issue and annulment; a PDF is never served as an OFD or the
other way round; an RSA seal is refused before anything is rendered or stored.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from alembic import command
from click.testing import Result
from helpers.ofd_check import needs_ofd_check, run_ofd_check
from helpers.ofd_seal_checks import verify_all_seals
from sqlalchemy import func, select

from ofd.package import OfdPackage
from ofd.signatures import read_signature, read_signatures
from pki import ses
from sealsvc import audit, seals
from sealsvc.context import ServiceContext
from sealsvc.db import Database, alembic_config
from sealsvc.errors import InvalidInput
from sealsvc.licences import (
    WrongFormat,
    annul_licence,
    get_licence,
    get_licence_file,
    get_licence_ofd,
    get_licence_pdf,
    issue_licence,
    licence_status,
    load_template,
    reissue_licence,
)
from sealsvc.models import Licence
from sealsvc.pades import Level
from sealsvc.ses_seals import NoSesSeal

pytest_plugins = ("helpers.seal_fixtures",)  # seal_context, sqlite_seal_context

ACTOR = "test:licence-ofd"
MARKET = "郑州市市场监督管理局"
FTZ = "中国（河南）自由贸易试验区郑州片区管理委员会"


@pytest.fixture
def context(seal_context: ServiceContext) -> ServiceContext:
    """Real CAs with their PEM files under ``ca/`` (the SES verifier's trust anchors)."""
    with seal_context.database.session(read_only=True) as session:
        seal_context.ca.export_files(session)
    return seal_context


def _seal(context: ServiceContext, department: str, kind: str, algorithm: str = "sm2") -> str:
    return seals.issue(
        context, department=department, kind=kind, algorithm=algorithm, actor=ACTOR
    ).code


def _audit(context: ServiceContext) -> list[dict]:
    with context.database.session(read_only=True) as session:
        return [audit.entry_to_dict(e) for e in audit.query(session, limit=1000)]


def _licence_count(context: ServiceContext) -> int:
    with context.database.session(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(Licence))


def _files(context: ServiceContext) -> list[str]:
    directory = context.settings.data_dir / "licences"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


LANDSCAPE_HEIGHT = 210.0
"""The 营业执照 is A4 landscape: 297 × 210 mm."""


def _stamp_centres(package: OfdPackage) -> list[float]:
    """x, y of each signature's stamp centre, in mm from the lower-left corner (the PDF's
    and the templates' coordinates) of a landscape A4 page."""
    assert "<ofd:PhysicalBox>0 0 297 210</" in package["Doc_0/Document.xml"].decode()
    centres = []
    for entry in read_signatures(package).entries:
        (annot,) = read_signature(package, entry).stamp_annots
        x, y, w, h = annot.boundary
        centres += [x + w / 2, LANDSCAPE_HEIGHT - (y + h / 2)]
    return centres


def test_an_ofd_licence_is_sealed_at_issue_stored_and_served(context: ServiceContext) -> None:
    code = _seal(context, MARKET, "公章")
    template = load_template("business_licence")
    record = issue_licence(
        context, template, template.example, [code], actor=ACTOR, file_format="ofd"
    )
    assert record.format == "ofd" and record.as_dict()["format"] == "ofd"
    assert record.file_name == f"{record.number}-v1.ofd"
    ofd = get_licence_ofd(context, record.number)
    assert hashlib.sha256(ofd).hexdigest() == record.document_sha256
    if not context.database.is_shared:  # on a shared database the file is a row
        assert (context.settings.data_dir / "licences" / record.file_name).read_bytes() == ofd
    assert get_licence_file(context, record.number) == ofd  # whatever its format

    package = OfdPackage.read(ofd)
    assert list(verify_all_seals(context, package).values()) == [code]
    (entry,) = read_signatures(package).entries
    signature = read_signature(package, entry)
    # B-T by default for OFD: the SES_Signature carries our TSA's token
    assert ses.parse_signature(package[signature.signed_value_path]).time_stamp_token
    spot = template.spec.seals[0]
    assert _stamp_centres(package) == pytest.approx([spot.x_mm, spot.y_mm])

    with pytest.raises(WrongFormat, match=r"issued as OFD, not PDF") as refused:
        get_licence_pdf(context, record.number)
    assert refused.value.status == 409
    entries = _audit(context)
    assert [e["action"] for e in entries[-2:]] == ["seal.use", "licence.issue"]
    used, issued = entries[-2:]
    assert issued["details"]["format"] == "ofd" and issued["details"]["level"] == "B-T"
    assert issued["document_hash"] == record.document_sha256
    assert used["details"]["format"] == "ses" and used["details"]["licence"] == record.number


def test_joint_seals_each_sign_at_their_spot_and_all_verify(context: ServiceContext) -> None:
    market, ftz = _seal(context, MARKET, "公章"), _seal(context, FTZ, "行政审批专用章")
    template = load_template("business_licence")
    data = {k: v for k, v in template.example.items() if k != template.spec.issuer_field}
    record = issue_licence(context, template, data, [market, ftz], actor=ACTOR,
                           file_format="ofd", level=Level.B_B)  # fmt: skip
    assert record.data[template.spec.issuer_field] == f"{MARKET}、{FTZ}"
    package = OfdPackage.read(get_licence_ofd(context, record.number))
    assert list(verify_all_seals(context, package).values()) == [market, ftz]
    spots = [v for s in template.spec.seals for v in (s.x_mm, s.y_mm)]
    assert _stamp_centres(package) == pytest.approx(spots)
    for entry in read_signatures(package).entries:  # B-B: no time-stamp
        signed_value = read_signature(package, entry).signed_value_path
        assert ses.parse_signature(package[signed_value]).time_stamp_token is None
    uses = [e for e in _audit(context) if e["action"] == "seal.use"]
    assert [e["seal_code"] for e in uses[-2:]] == [market, ftz]


def test_an_rsa_seal_is_refused_for_ofd_before_anything_is_stored(
    sqlite_seal_context: ServiceContext,
) -> None:
    context = sqlite_seal_context
    sm2 = _seal(context, MARKET, "公章")
    rsa = _seal(context, MARKET, "行政审批专用章", "rsa2048")
    template = load_template("business_licence")
    before = len(_audit(context))
    with pytest.raises(NoSesSeal, match=r"OFD licence needs SM2 seals: .*rsa2048 seal") as exc:
        issue_licence(context, template, template.example, [sm2, rsa], actor=ACTOR,
                      file_format="ofd", audit_details={"key_id": "k9"})  # fmt: skip
    assert exc.value.status == 409
    entries = _audit(context)
    assert len(entries) == before + 1  # the refusal and nothing else: no seal.use of sm2
    refused = entries[-1]
    assert refused["action"] == "seal.refused" and refused["seal_code"] == rsa
    assert refused["details"]["licence_format"] == "ofd"
    assert refused["details"]["key_id"] == "k9"
    assert _licence_count(context) == 0 and _files(context) == []
    # the same seal is fine for a PDF
    record = issue_licence(context, template, template.example, [rsa], actor=ACTOR,
                           level=Level.B_B)  # fmt: skip
    assert record.format == "pdf"
    with pytest.raises(WrongFormat, match=r"issued as PDF, not OFD"):
        get_licence_ofd(context, record.number)


BAD = [("ofd", "B-LT"), ("ofd", "B-LTA"), ("odf", None)]


@pytest.mark.parametrize(("file_format", "level"), BAD)
def test_bad_format_or_level_is_refused_before_anything_is_stored(
    sqlite_seal_context: ServiceContext, file_format: str, level: str | None
) -> None:
    context = sqlite_seal_context
    code = _seal(context, MARKET, "公章")
    template = load_template("business_licence")
    before = len(_audit(context))
    with pytest.raises(InvalidInput, match=r"not available for OFD|unknown licence format"):
        issue_licence(context, template, template.example, [code], actor=ACTOR,
                      file_format=file_format, level=level and Level(level))  # fmt: skip
    assert len(_audit(context)) == before
    assert _licence_count(context) == 0 and _files(context) == []


def test_reissue_annul_and_status_keep_the_format(context: ServiceContext) -> None:
    code = _seal(context, MARKET, "公章")
    template = load_template("business_licence")
    first = issue_licence(context, template, template.example, [code], actor=ACTOR,
                          file_format="ofd", level=Level.B_B)  # fmt: skip
    second = reissue_licence(context, first.number, {"registered_capital": "6000"},
                             actor=ACTOR, reason="增资")  # fmt: skip
    assert (second.version, second.format, second.file_name) == (2, "ofd", f"{first.number}-v2.ofd")
    package = OfdPackage.read(get_licence_ofd(context, first.number))
    assert list(verify_all_seals(context, package).values()) == [code]
    assert get_licence(context, first.number, 1).status == "superseded"
    assert OfdPackage.read(get_licence_ofd(context, first.number, 1))  # v1 is still served
    annulled = annul_licence(context, first.number, "申请注销", kind="cancelled", actor=ACTOR)
    assert annulled.format == "ofd" and annulled.status == "annulled"
    with context.database.session(read_only=True) as session:
        status = licence_status(session, first.number, first.data_hash)
    assert (status.format, status.presented_version, status.status) == ("ofd", 1, "annulled")
    issued = [e for e in _audit(context) if e["action"] == "licence.reissue"]
    assert issued[-1]["details"]["format"] == "ofd"


def test_an_interrupted_rename_of_an_ofd_is_completed(sqlite_seal_context: ServiceContext) -> None:
    """A crash after the commit leaves the file under its temporary name: it is found by
    its SHA-256 and renamed, as for a PDF (nothing lost)."""
    context = sqlite_seal_context
    template = load_template("business_licence")
    record = issue_licence(context, template, template.example, [_seal(context, MARKET, "公章")],
                           actor=ACTOR, file_format="ofd", level=Level.B_B)  # fmt: skip
    directory = context.settings.data_dir / "licences"
    stored = directory / record.file_name
    ofd = stored.read_bytes()
    os.replace(stored, directory / f".{record.file_name}.abc123.tmp")
    assert get_licence_ofd(context, record.number) == ofd
    assert stored.read_bytes() == ofd and _files(context) == [record.file_name]


def test_revision_0008_makes_existing_licences_pdf(database: Database) -> None:
    with database.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0007")
        connection.exec_driver_sql(
            "INSERT INTO licences (number, version, template, data, seal_codes, "
            "document_sha256, file_name, status, issued_at) VALUES ('YYZZ20240101000001', 1, "
            "'business_licence', '{}', '[]', 'ab', 'YYZZ20240101000001-v1.pdf', 'valid', "
            "'2024-01-01 00:00:00')"
        )
    database.migrate()
    with database.session(read_only=True) as session:
        assert session.scalars(select(Licence.format)).all() == ["pdf"]
    with database.engine.begin() as connection, pytest.raises(Exception, match=r"(?i)check"):
        connection.exec_driver_sql("UPDATE licences SET format = 'docx'")


def test_sealctl_issues_shows_and_downloads_an_ofd_licence(
    sqlite_seal_context: ServiceContext, sealctl, tmp_path: Path
) -> None:
    code = _seal(sqlite_seal_context, MARKET, "公章")
    data = tmp_path / "data.json"
    data.write_text(json.dumps(load_template("business_licence").example), encoding="utf-8")
    out = tmp_path / "licence.ofd"
    issued: Result = sealctl("licence", "issue", "--template", "business_licence", "--data",
                             str(data), "--seal", code, "--format", "ofd", "--level", "B-B",
                             "-o", str(out), "--json")  # fmt: skip
    assert issued.exit_code == 0, issued.stderr
    body = json.loads(issued.stdout)
    assert body["format"] == "ofd" and body["output"] == str(out)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == body["document_sha256"]
    shown = json.loads(sealctl("licence", "show", body["number"], "--json").stdout)
    assert shown["format"] == "ofd" and shown["verification"]["format"] == "ofd"
    again = tmp_path / "again.ofd"
    assert sealctl("licence", "download", body["number"], "-o", str(again)).exit_code == 0
    assert again.read_bytes() == out.read_bytes()
    human = sealctl("licence", "show", body["number"])
    assert f"{body['number']} v1 (OFD)" in human.stdout

    rsa = _seal(sqlite_seal_context, MARKET, "行政审批专用章", "rsa2048")
    refused = sealctl("licence", "issue", "--template", "business_licence", "--data", str(data),
                      "--seal", rsa, "--format", "ofd")  # fmt: skip
    assert refused.exit_code == 1 and "Traceback" not in refused.stderr
    assert "SM2" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    bad = sealctl("licence", "issue", "--template", "business_licence", "--data", str(data),
                  "--seal", code, "--format", "ofd", "--level", "B-LTA")  # fmt: skip
    assert bad.exit_code == 1 and "not available for OFD" in bad.stderr


@pytest.mark.slow
@needs_ofd_check
def test_ofd_check_passes_issued_ofd_licences_and_fails_a_tampered_one(
    sqlite_seal_context: ServiceContext, tmp_path: Path
) -> None:
    context = sqlite_seal_context
    market, ftz = _seal(context, MARKET, "公章"), _seal(context, FTZ, "行政审批专用章")
    files = {}
    for name in ("business_licence", "admin_permit_decision"):
        template = load_template(name)
        codes = [market, ftz] if name == "business_licence" else [ftz]
        data = {k: v for k, v in template.example.items() if k != template.spec.issuer_field}
        record = issue_licence(context, template, data, codes, actor=ACTOR, file_format="ofd")
        files[name] = OfdPackage.read(get_licence_ofd(context, record.number))
    page = bytearray(files["business_licence"]["Doc_0/Pages/Page_0/Content.xml"])
    page[page.index(b"\xe9\x83\x91")] ^= 0x01  # the first 郑 of the page, one bit
    files["tampered"] = files["business_licence"].with_files(
        {"Doc_0/Pages/Page_0/Content.xml": bytes(page)}
    )
    lines = run_ofd_check(files, tmp_path)
    for name in ("business_licence", "admin_permit_decision"):
        assert lines[name].startswith("PASS "), lines[name]
    assert lines["tampered"].startswith("FAIL "), lines["tampered"]
