"""The licence pipeline end to end on a real data directory: CAs, seals, SQLite, files.

Each template's example is issued with the seal of the department named in the brief,
then checked by tools nobody here wrote: ``pdftotext`` (values in Chinese), ``pdffonts``
(CJK font embedded), ``zbarimg`` (the QR code gives the verification URL), ``pdfsig``
("Signature is Valid.") — and by ``sealsvc.verification``. Failures must leave no record
and no file; re-download returns the same bytes; annulment and re-issue show in the
verification status and in the audit log.
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select

from pki.certificates import load_certificate
from sealsvc import audit, seals
from sealsvc.context import ServiceContext
from sealsvc.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from sealsvc.licences import (
    LicenceFileProblem,
    LicenceRecord,
    annul_licence,
    get_licence,
    get_licence_pdf,
    issue_licence,
    licence_status,
    list_licences,
    load_template,
    reconcile_licence_files,
    reissue_licence,
)
from sealsvc.models import AuditEntry, Licence
from sealsvc.pades import Level
from sealsvc.verification import TrustAnchors, verify

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

ACTOR = "test:licences"
ISSUERS = {
    "business_licence": ("郑州市市场监督管理局", "公章"),
    "admin_permit_decision": ("中国（河南）自由贸易试验区郑州片区管理委员会", "行政审批专用章"),
    "construction_permit": ("郑州市城乡建设局", "公章"),
    "real_estate_certificate": ("郑州市自然资源和规划局", "公章"),
}


def _seal(context: ServiceContext, template: str) -> str:
    department, kind = ISSUERS[template]
    return seals.issue(context, department=department, kind=kind, actor=ACTOR).code


def _tool(*argv: str | Path) -> str:
    return subprocess.run([str(a) for a in argv], check=True, capture_output=True, text=True).stdout


def _trust(context: ServiceContext) -> TrustAnchors:
    with context.database.session(read_only=True) as session:
        return TrustAnchors(
            tuple(load_certificate(context.ca.ca_set(session, h).root.der) for h in ("rsa", "sm2"))
        )


def _roots_pem(context: ServiceContext) -> bytes:
    """The RSA and SM2 roots as PEM, for ``sealctl verify --trust``."""
    with context.database.session(read_only=True) as session:
        ders = [context.ca.ca_set(session, h).root.der for h in ("rsa", "sm2")]
    return b"".join(
        b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
        for der in ders
    )


def _licence_files(context: ServiceContext) -> list[str]:
    directory = context.settings.data_dir / "licences"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def _count(context: ServiceContext, model=Licence) -> int:
    with context.database.session(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(model))


def _actions(context: ServiceContext) -> list[str]:
    return [e["action"] for e in _audit(context)]


def _audit(context: ServiceContext) -> list[dict]:
    with context.database.session(read_only=True) as session:
        return [audit.entry_to_dict(e) for e in audit.query(session, limit=1000)]


@pytest.mark.parametrize("name", sorted(ISSUERS))
def test_each_template_issues_a_sealed_licence_that_tools_accept(
    sqlite_seal_context: ServiceContext, name: str, tmp_path: Path
) -> None:
    context = sqlite_seal_context
    code = _seal(context, name)
    template = load_template(name)
    record = issue_licence(context, name, template.example, [code], actor=ACTOR, level=Level.B_LTA)
    pdf = get_licence_pdf(context, record.number)
    path = tmp_path / "licence.pdf"
    path.write_bytes(pdf)

    text = re.sub(r"\s+", "", _tool("pdftotext", "-raw", path, "-"))
    for key, shown in template.display(record.data).items():
        assert re.sub(r"\s+", "", shown) in text, f"{key} missing from the text"
    assert record.number in text
    fonts = _tool("pdffonts", path)
    assert re.search(r"UMing\S*\s+TrueType\s+\S+\s+yes\s+yes", fonts), fonts
    _tool("pdftoppm", "-png", "-r", "200", "-singlefile", path, tmp_path / "page")
    assert _tool("zbarimg", "-q", "--raw", tmp_path / "page.png").strip() == record.verify_url
    assert record.verify_url == (
        f"{context.settings.base_url}/verify/{record.number}?h={record.data_hash}"
    )

    sig = subprocess.run(["pdfsig", path], capture_output=True, text=True).stdout
    assert sig.count("Signature is Valid.") == 1, sig  # the seal (+ a document time-stamp)
    assert ISSUERS[name][0] in sig
    report = verify(pdf, trust=_trust(context))
    assert report.passed, report.to_json()
    kinds = [s.kind for s in report.signatures]
    assert kinds == ["signature", "document_timestamp"]

    stored = context.settings.data_dir / "licences" / record.file_name
    assert record.file_name == f"{record.number}-v1.pdf"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o644
    assert get_licence_pdf(context, record.number) == pdf  # stable re-download
    assert _actions(context)[-2:] == ["seal.use", "licence.issue"]


def test_joint_seals_first_certifies_and_both_validate(
    sqlite_seal_context: ServiceContext, tmp_path: Path
) -> None:
    context = sqlite_seal_context
    ftz = _seal(context, "admin_permit_decision")
    market = seals.issue(context, department="郑州市市场监督管理局", kind="行政审批专用章",
                         actor=ACTOR).code  # fmt: skip
    template = load_template("admin_permit_decision")
    joint = "中国（河南）自由贸易试验区郑州片区管理委员会、郑州市市场监督管理局"
    data = {**template.example, "authority": joint}  # 联合审批: both issuers, in seal order
    record = issue_licence(context, template, data, [ftz, market], actor=ACTOR)
    pdf = get_licence_pdf(context, record.number)
    (tmp_path / "joint.pdf").write_bytes(pdf)
    sig = subprocess.run(["pdfsig", tmp_path / "joint.pdf"], capture_output=True, text=True).stdout
    assert sig.count("Signature is Valid.") == 2, sig
    report = verify(pdf, trust=_trust(context))
    assert report.passed, report.to_json()
    assert [s.field_name for s in report.signatures if s.kind == "signature"] == ["Seal1", "Seal2"]
    assert record.seal_codes == (ftz, market)
    uses = [e for e in _audit(context) if e["action"] == "seal.use"]
    assert [u["details"]["certify"] for u in uses] == [True, False]
    assert [u["details"]["level"] for u in uses] == ["B-LT", "B-LTA"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": None}, r"名称 \(name\) is required"),
        ({"business_scope": "经" * 801}, r"经营范围 \(business_scope\) has 801 characters"),
    ],
)
def test_invalid_data_leaves_no_record_and_no_file(
    sqlite_seal_context: ServiceContext, change: dict, message: str
) -> None:
    context = sqlite_seal_context
    code = _seal(context, "business_licence")
    template = load_template("business_licence")
    data = {k: v for k, v in {**template.example, **change}.items() if v is not None}
    entries = len(_audit(context))
    with pytest.raises(InvalidInput, match=message):
        issue_licence(context, template, data, [code], actor=ACTOR, level=Level.B_T)
    assert _count(context) == 0
    assert _licence_files(context) == []
    assert len(_audit(context)) == entries


def test_a_database_failure_while_storing_leaves_no_file(
    sqlite_seal_context: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = sqlite_seal_context
    code = _seal(context, "business_licence")
    template = load_template("business_licence")
    real_append = audit.append

    def failing_append(session, **kwargs):
        if kwargs["action"] == "licence.issue":
            raise RuntimeError("disk full")
        return real_append(session, **kwargs)

    monkeypatch.setattr(audit, "append", failing_append)
    with pytest.raises(RuntimeError, match="disk full"):
        issue_licence(context, template, template.example, [code], actor=ACTOR, level=Level.B_T)
    assert _count(context) == 0
    assert _licence_files(context) == []  # the temporary file was removed too


def test_bad_seal_lists_are_refused_before_anything_is_done(
    sqlite_seal_context: ServiceContext,
) -> None:
    context = sqlite_seal_context
    template = load_template("business_licence")
    with pytest.raises(InvalidInput, match="at least one seal"):
        issue_licence(context, template, template.example, [], actor=ACTOR)
    with pytest.raises(InvalidInput, match="same seal is given twice"):
        issue_licence(context, template, template.example, ["1", "1"], actor=ACTOR)
    with pytest.raises(InvalidInput, match="room for 2 seals, got 3"):
        issue_licence(context, template, template.example, ["1", "2", "3"], actor=ACTOR)
    with pytest.raises(NotFound):
        issue_licence(context, template, template.example, ["41010001999999"], actor=ACTOR,
                      level=Level.B_T)  # fmt: skip
    assert _count(context) == 0
    assert _licence_files(context) == []


@pytest.mark.parametrize("number", ["../../etc/passwd", "a/b", "YY.pdf", "短号", "abc"])
def test_unsafe_licence_numbers_are_refused(
    sqlite_seal_context: ServiceContext, number: str
) -> None:
    context = sqlite_seal_context
    template = load_template("business_licence")
    with pytest.raises(InvalidInput, match="licence number"):
        issue_licence(context, template, template.example, ["x"], actor=ACTOR, number=number)
    with pytest.raises(InvalidInput, match="licence number"):
        get_licence_pdf(context, number)


def test_annul_shows_in_verification_and_is_audited(sqlite_seal_context: ServiceContext) -> None:
    context = sqlite_seal_context
    code = _seal(context, "real_estate_certificate")
    template = load_template("real_estate_certificate")
    record = issue_licence(context, template, template.example, [code], actor=ACTOR,
                           level=Level.B_T, number="BDCZM-TEST-000001")  # fmt: skip
    with context.database.session(read_only=True) as session:
        before = licence_status(session, record.number, record.data_hash)
    assert before.status == "valid" and before.hash_matches is True
    assert before.message.startswith("有效") and "郑州市自然资源和规划局" in before.message

    with pytest.raises(InvalidInput, match=r"revoked \(吊销\) or cancelled \(注销\)"):
        annul_licence(context, record.number, "抵押权注销登记", kind="void", actor=ACTOR)
    annul_licence(context, record.number, "抵押权注销登记", kind="cancelled", actor=ACTOR)
    with context.database.session(read_only=True) as session:
        after = licence_status(session, record.number, record.data_hash)
    assert after.status == "annulled" and after.annul_kind == "cancelled"
    assert "被注销，不再有效" in after.message and "抵押权注销登记" in after.message
    assert "吊销" not in after.message
    with pytest.raises(InvalidTransition, match="already annulled"):
        annul_licence(context, record.number, "again", kind="revoked", actor=ACTOR)
    with pytest.raises(InvalidTransition, match="only a valid one can change"):
        reissue_licence(context, record.number, {"matter": "预告登记"}, actor=ACTOR)
    with pytest.raises(InvalidInput, match="needs a reason"):
        annul_licence(context, record.number, "  ", kind="revoked", actor=ACTOR)
    with pytest.raises(Conflict, match="already exists"):
        issue_licence(context, template, template.example, [code], actor=ACTOR,
                      number="BDCZM-TEST-000001")  # fmt: skip
    entry = _audit(context)[-1]
    assert entry["action"] == "licence.annul"
    assert entry["details"] == {
        "number": record.number,
        "version": 1,
        "kind": "cancelled",
        "reason": "抵押权注销登记",
    }
    assert get_licence_pdf(context, record.number)  # an annulled licence can still be fetched


def test_reissue_makes_a_new_version_and_supersedes_the_old(
    sqlite_seal_context: ServiceContext, tmp_path: Path
) -> None:
    context = sqlite_seal_context
    code = _seal(context, "business_licence")
    template = load_template("business_licence")
    first = issue_licence(context, template, template.example, [code], actor=ACTOR, level=Level.B_T)
    first_pdf = get_licence_pdf(context, first.number)
    new_address = "河南省郑州市金水区花园路39号"
    second = reissue_licence(context, first.number, {"address": new_address}, actor=ACTOR,
                             reason="住所变更", level=Level.B_T)  # fmt: skip
    assert (second.number, second.version, second.previous_id) == (first.number, 2, first.id)
    assert second.data["address"] == new_address
    assert second.data["name"] == first.data["name"]
    assert second.data_hash != first.data_hash
    old = get_licence(context, first.number, 1)
    assert old.status == "superseded" and old.status_reason == "住所变更"
    assert get_licence(context, first.number).version == 2
    assert get_licence_pdf(context, first.number, 1) == first_pdf
    path = tmp_path / "v2.pdf"
    path.write_bytes(get_licence_pdf(context, first.number))
    assert new_address in _tool("pdftotext", "-raw", path, "-").replace("\n", "")
    assert "（第2版）" in _tool("pdftotext", "-raw", path, "-")

    with context.database.session(read_only=True) as session:
        via_old_qr = licence_status(session, first.number, first.data_hash)
        forged = licence_status(session, first.number, "0" * 16)
        plain = licence_status(session, first.number)
    assert via_old_qr.presented_version == 1 and via_old_qr.latest_version == 2
    assert "第1版" in via_old_qr.message and "取代" in via_old_qr.message
    assert forged.hash_matches is False and "核验失败" in forged.message
    assert plain.hash_matches is None and plain.status == "valid"
    reissue = _audit(context)[-1]
    assert reissue["action"] == "licence.reissue"
    assert reissue["details"]["previous_version"] == 1
    assert [r.version for r in list_licences(context)] == [2]
    assert [r.version for r in list_licences(context, status="superseded")] == []


def _issued_permit(context: ServiceContext) -> tuple[LicenceRecord, Path, Path, bytes]:
    """A B-T 建筑工程施工许可证: its record, the licence directory, its file and bytes."""
    code = _seal(context, "construction_permit")
    template = load_template("construction_permit")
    record = issue_licence(context, template, template.example, [code], actor=ACTOR,
                           level=Level.B_T)  # fmt: skip
    directory = context.settings.data_dir / "licences"
    final = directory / record.file_name
    return record, directory, final, final.read_bytes()


def test_download_checks_the_file_and_finishes_an_interrupted_rename(
    sqlite_seal_context: ServiceContext,
) -> None:
    context = sqlite_seal_context
    record, directory, final, pdf = _issued_permit(context)
    # a crash after the commit, before the rename: the file still has its temporary name
    os.rename(final, directory / f".{record.file_name}.abc123.tmp")
    assert get_licence_pdf(context, record.number) == pdf
    assert final.exists()
    final.write_bytes(pdf[:-10] + b"0123456789")
    with pytest.raises(LicenceFileProblem, match="does not match its record"):
        get_licence_pdf(context, record.number)
    final.unlink()
    with pytest.raises(LicenceFileProblem, match="cannot be read"):
        get_licence_pdf(context, record.number)


def test_reconcile_finishes_committed_renames_and_sweeps_garbage(
    sqlite_seal_context: ServiceContext,
) -> None:
    context = sqlite_seal_context
    record, directory, final, pdf = _issued_permit(context)
    committed = directory / f".{record.file_name}.crash1.tmp"
    os.rename(final, committed)  # crash after the commit, before the rename
    garbage = directory / ".XKZ-never-committed.pdf.crash2.tmp"  # crash before the commit
    garbage.write_bytes(b"%PDF-1.7 half a licence")
    young = directory / ".XKZ-in-progress.pdf.now.tmp"
    young.write_bytes(b"%PDF-1.7 being written")
    an_hour_ago = time.time() - 3600
    for path in (committed, garbage):
        os.utime(path, (an_hour_ago, an_hour_ago))

    finished, removed = reconcile_licence_files(context)
    assert finished == [record.file_name]
    assert removed == [garbage.name]
    assert final.read_bytes() == pdf and not committed.exists() and not garbage.exists()
    assert young.exists()  # an issuance in progress is left alone
    assert get_licence_pdf(context, record.number) == pdf
    young.unlink()


def test_sealctl_licence_commands(
    sqlite_seal_context: ServiceContext, sealctl: Callable[..., Result], tmp_path: Path
) -> None:
    context = sqlite_seal_context
    code = _seal(context, "business_licence")
    template = load_template("business_licence")
    data = tmp_path / "data.json"
    data.write_text(json.dumps(template.example, ensure_ascii=False))
    out = tmp_path / "out.pdf"
    result = sealctl("licence", "issue", "--template", "business_licence", "--data", str(data),
                     "--seal", code, "--level", "B-T", "-o", str(out), "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    issued = json.loads(result.stdout)
    number = issued["number"]
    assert out.read_bytes() == get_licence_pdf(context, number)

    listed = json.loads(sealctl("licence", "list", "--json").stdout)
    assert [r["number"] for r in listed] == [number]
    shown = json.loads(sealctl("licence", "show", number, "--json").stdout)
    assert shown["verification"]["status"] == "valid"
    assert shown["data"]["uscc"] == template.example["uscc"]
    roots = tmp_path / "roots.pem"
    roots.write_bytes(_roots_pem(context))
    check = sealctl("verify", str(out), "--trust", str(roots), "--json")
    assert check.exit_code == 0, check.stdout
    assert json.loads(check.stdout)["accepted"] is True

    change = tmp_path / "change.json"
    change.write_text(json.dumps({"legal_representative": "刘振华"}, ensure_ascii=False))
    result = sealctl("licence", "reissue", number, "--data", str(change), "--level", "B-T",
                     "--reason", "法定代表人变更", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["version"] == 2
    check = sealctl("verify", str(out), "--trust", str(roots))  # v1, now superseded
    assert check.exit_code == 1 and "TOTAL_PASSED" in check.stdout
    assert "NOT ACCEPTED" in check.stdout and "已由第2版取代，不再有效" in check.stdout

    copy = tmp_path / "copy.pdf"
    result = sealctl("licence", "download", number, "-o", str(copy), "--version", "1")
    assert result.exit_code == 0, result.stderr
    assert copy.read_bytes() == out.read_bytes()

    result = sealctl("licence", "annul", number, "--reason", "虚报注册资本")
    assert result.exit_code == 2 and "--kind" in result.stderr  # no default: 吊销 ≠ 注销
    result = sealctl("licence", "annul", number, "--kind", "revoked", "--reason", "虚报注册资本",
                     "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    annulled = json.loads(result.stdout)
    assert (annulled["status"], annulled["annul_kind"]) == ("annulled", "revoked")
    listed = json.loads(sealctl("licence", "list", "--json").stdout)
    assert [r["annul_kind"] for r in listed] == ["revoked"]
    human = sealctl("licence", "show", number).stdout
    assert "annulled (revoked, 吊销)" in human and "被吊销，不再有效" in human
    latest = tmp_path / "v2.pdf"
    assert sealctl("licence", "download", number, "-o", str(latest)).exit_code == 0
    check = sealctl("verify", str(latest), "--trust", str(roots), "--json")
    assert check.exit_code == 1
    verdict = json.loads(check.stdout)
    assert verdict["verdict"] == "TOTAL_PASSED" and verdict["accepted"] is False
    assert verdict["licence_status"] == "annulled" and "被吊销，不再有效" in verdict["conclusion"]

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**template.example, "uscc": "123"}))
    result = sealctl("licence", "issue", "--template", "business_licence", "--data", str(bad),
                     "--seal", code)  # fmt: skip
    assert result.exit_code == 1
    assert "统一社会信用代码 (uscc) must be" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout

    names = json.loads(sealctl("template", "list", "--json").stdout)
    assert {t["name"] for t in names} >= set(ISSUERS)
    schema = json.loads(sealctl("template", "show", "business_licence", "--json").stdout)
    assert schema["fields"][0]["label"] == "统一社会信用代码"
    assert sealctl("template", "show", "nope").exit_code == 1


def test_issued_licences_are_counted_in_the_audit_chain(
    sqlite_seal_context: ServiceContext,
) -> None:
    context = sqlite_seal_context
    code = _seal(context, "business_licence")
    template = load_template("business_licence")
    issue_licence(context, template, template.example, [code], actor=ACTOR, level=Level.B_T)
    with context.database.session(read_only=True) as session:
        assert audit.verify(session).intact
    assert _count(context, AuditEntry) >= 2
