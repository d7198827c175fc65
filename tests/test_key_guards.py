"""Key-use guards (issue 19 §4): no sealing with a certificate about to end.

``SEALSVC_MIN_CERT_DAYS_LEFT`` makes sealing refuse a seal whose certificate ends within
that many days — audited as ``seal.refused`` like every other refusal — and ``seal list
--expiring`` warns about each seal near its end, saying whether it is refused already.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pdf_fixtures import ANCHOR, chinese_pdf
from sqlalchemy import select

from sealsvc import seals
from sealsvc.config import ConfigError, Settings
from sealsvc.context import ServiceContext
from sealsvc.models import AuditEntry

pytest_plugins = ("seal_fixtures",)  # sqlite_seal_context


def test_a_seal_near_its_end_is_refused_and_the_refusal_audited(
    sqlite_seal_context: ServiceContext,
    sealctl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    short = seals.issue(
        sqlite_seal_context, department="ZZ-D26", kind="公章", actor="t",
        validity=timedelta(days=10),
    )  # fmt: skip
    long = seals.issue(sqlite_seal_context, department="ZZ-D26", kind="合同专用章", actor="t")
    (tmp_path / "in.pdf").write_bytes(chinese_pdf())

    def sign(code: str):
        return sealctl("sign", str(tmp_path / "in.pdf"), "--seal", code, "--anchor", ANCHOR,
                       "-o", str(tmp_path / f"{code}.pdf"))  # fmt: skip

    assert sign(short.code).exit_code == 0  # no guard configured: seals to the last day

    monkeypatch.setenv("SEALSVC_MIN_CERT_DAYS_LEFT", "30")
    refused = sign(short.code)
    assert refused.exit_code == 1
    assert "fewer than the 30 required (SEALSVC_MIN_CERT_DAYS_LEFT): renew or rotate it" in (
        refused.output
    )
    assert sign(long.code).exit_code == 0  # three years left

    with sqlite_seal_context.database.session(read_only=True) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "seal.refused").order_by(AuditEntry.seq)
        ).all()[-1]
    assert entry.seal_code == short.code
    assert "SEALSVC_MIN_CERT_DAYS_LEFT" in str(entry.details)

    listed = sealctl("seal", "list", "--expiring", "60d", "--json")
    assert listed.exit_code == 0
    assert f"warning: seal {short.code}: certificate ends" in listed.stderr
    assert "sealing is refused (SEALSVC_MIN_CERT_DAYS_LEFT=30)" in listed.stderr
    assert long.code not in listed.stderr

    monkeypatch.setenv("SEALSVC_MIN_CERT_DAYS_LEFT", "5")
    assert "it still seals" in sealctl("seal", "list", "--expiring", "60d").stderr
    assert sign(short.code).exit_code == 0


def test_the_guard_setting_must_be_a_number_of_days(tmp_path: Path) -> None:
    assert Settings.load(tmp_path, {}).min_cert_days_left == 0
    assert Settings.load(tmp_path, {"SEALSVC_MIN_CERT_DAYS_LEFT": "14"}).min_cert_days_left == 14
    for bad in ("-1", "two weeks"):
        with pytest.raises(ConfigError, match="whole number of days"):
            Settings.load(tmp_path, {"SEALSVC_MIN_CERT_DAYS_LEFT": bad})
