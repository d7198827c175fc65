"""Key-use guards (issue 19 §4), SignServer's habits.

``SEALSVC_MIN_CERT_DAYS_LEFT`` makes sealing refuse a seal whose certificate ends within
that many days, and ``seal list --expiring`` warns about each seal near its end, saying
whether it is refused already; ``SEALSVC_SEAL_USAGE_LIMIT`` refuses a seal whose current
key has made that many signatures until it is rotated, and ``sealctl seal set-limit``
sets such a limit per seal.  Each refusal is audited as ``seal.refused`` like every other.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from helpers.pdf_fixtures import ANCHOR, chinese_pdf
from sqlalchemy import select

from sealsvc import seals
from sealsvc.config import ConfigError, Settings
from sealsvc.context import ServiceContext
from sealsvc.errors import SealNotUsable
from sealsvc.models import AuditEntry
from sealsvc.pades import Level, SealOptions
from sealsvc.sealing import Sealer

pytest_plugins = ("helpers.seal_fixtures",)  # seal_context, sqlite_seal_context


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
    assert Settings.load(tmp_path, {"SEALSVC_SEAL_USAGE_LIMIT": "1000"}).seal_usage_limit == 1000
    with pytest.raises(ConfigError, match="whole number of signatures"):
        Settings.load(tmp_path, {"SEALSVC_SEAL_USAGE_LIMIT": "lots"})


def test_a_key_that_made_its_quota_of_signatures_is_refused_until_rotated(
    sqlite_seal_context: ServiceContext,
    sealctl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = seals.issue(sqlite_seal_context, department="ZZ-D26", kind="公章", actor="t").code
    (tmp_path / "in.pdf").write_bytes(chinese_pdf())
    monkeypatch.setenv("SEALSVC_SEAL_USAGE_LIMIT", "2")

    def sign():
        return sealctl("sign", str(tmp_path / "in.pdf"), "--seal", code, "--anchor", ANCHOR,
                       "-o", str(tmp_path / "out.pdf"))  # fmt: skip

    assert sign().exit_code == 0
    renewed = sealctl("seal", "renew", code)  # same key: the count goes on
    assert renewed.exit_code == 0, renewed.output
    assert sign().exit_code == 0
    refused = sign()
    assert refused.exit_code == 1
    assert "has made 2 signatures with its current key" in refused.output
    assert "SEALSVC_SEAL_USAGE_LIMIT=2" in refused.output
    with sqlite_seal_context.database.session(read_only=True) as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert last.action == "seal.refused" and last.seal_code == code

    assert sealctl("seal", "rotate", code).exit_code == 0  # a new key starts afresh
    assert sign().exit_code == 0


# --- the per-seal usage limit -----------------------------------------------------------------


def _seal(sealer: Sealer, code: str) -> None:
    sealer.seal(chinese_pdf(), code, SealOptions(level=Level.B_B), actor="t")


def test_a_seal_limited_to_n_signatures_refuses_the_next_on_every_node(
    seal_context: ServiceContext,
) -> None:
    """``seal set-limit`` N: N signatures, then a refusal (audited) — and with requests on
    two contexts at once (two nodes on PostgreSQL) exactly N get through, because the count
    is read under the audit chain's lock in the final check."""
    code = seals.issue(seal_context, department="ZZ-D26", kind="公章", actor="t").code
    view = seals.set_usage_limit(seal_context, code, 3, actor="t")
    assert view.usage_limit == 3 and view.as_dict()["usage_limit"] == 3
    other = ServiceContext(seal_context.settings)
    sealers = [Sealer(seal_context), Sealer(other)]
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            outcomes = list(pool.map(lambda i: _attempt(sealers[i % 2], code), range(6)))
    finally:
        other.close()
    assert outcomes.count("sealed") == 3
    refusals = [o for o in outcomes if o != "sealed"]
    assert all("has made 3 signatures with its current key" in o for o in refusals)
    assert all("the seal's limit, sealctl seal set-limit=3" in o for o in refusals)
    with seal_context.database.session(read_only=True) as session:
        actions = list(
            session.scalars(select(AuditEntry.action).where(AuditEntry.seal_code == code))
        )
    assert actions.count("seal.use") == 3 and actions.count("seal.refused") >= 1
    assert "seal.set_limit" in actions

    seals.rotate(seal_context, code, actor="t")  # a new key: the count starts afresh
    _seal(Sealer(seal_context), code)
    assert seals.set_usage_limit(seal_context, code, None, actor="t").usage_limit is None


def _attempt(sealer: Sealer, code: str) -> str:
    try:
        _seal(sealer, code)
    except SealNotUsable as exc:
        return str(exc)
    return "sealed"


def test_the_stricter_of_the_seal_and_service_limits_applies(
    sqlite_seal_context: ServiceContext, sealctl, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = seals.issue(sqlite_seal_context, department="ZZ-D26", kind="公章", actor="t").code
    shown = sealctl("seal", "set-limit", code, "5", "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["usage_limit"] == 5
    monkeypatch.setenv("SEALSVC_SEAL_USAGE_LIMIT", "1")
    context = ServiceContext(Settings.load(sqlite_seal_context.settings.data_dir))
    try:
        _seal(Sealer(context), code)
        with pytest.raises(SealNotUsable, match=r"SEALSVC_SEAL_USAGE_LIMIT=1"):
            _seal(Sealer(context), code)
    finally:
        context.close()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("0",), "greater than or equal to 1"),
        ((), "either a limit or --none"),
        (("7", "--none"), "either a limit or --none"),
    ],
)
def test_set_limit_refuses_what_makes_no_sense(
    sqlite_seal_context: ServiceContext, sealctl, argv, message
) -> None:
    code = seals.issue(sqlite_seal_context, department="ZZ-D26", kind="公章", actor="t").code
    result = sealctl("seal", "set-limit", code, *argv)
    assert result.exit_code != 0
    assert message in result.output
