"""``sealctl seal …`` end to end, in-process through typer's CliRunner, on SQLite.

The data directory holds real CAs (``sqlite_seal_context``); CRL files the commands write
are read back with ``openssl crl``, images with Pillow and poppler's ``pdfimages``.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import Result
from helpers.pki_fixtures import openssl
from PIL import Image, ImageDraw
from sqlalchemy import select

from sealsvc import seals
from sealsvc.context import ServiceContext
from sealsvc.models import AuditEntry

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

Sealctl = Callable[..., Result]


@pytest.fixture
def cli(sqlite_seal_context: ServiceContext, sealctl: Sealctl) -> Sealctl:
    """``sealctl`` on a data directory with CAs and the seed departments."""
    return sealctl


def _ok(result: Result) -> dict | list:
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _fails(result: Result, message: str, exit_code: int = 1) -> None:
    assert result.exit_code == exit_code, result.stdout + result.stderr
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr + result.stdout


def _issue(cli: Sealctl, *args: str) -> dict:
    data = _ok(
        cli("seal", "issue", "--dept", "ZZ-FTZ", "--kind", "行政审批专用章", *args, "--json")
    )
    assert isinstance(data, dict)
    return data


def _crl(data_dir: Path, hierarchy: str = "rsa") -> str:
    result = openssl("crl", "-text", "-noout", "-in", data_dir / "ca" / f"{hierarchy}-issuing.crl")
    assert result.returncode == 0, result.stderr
    return result.stdout


def _hex(serial: str) -> str:
    text = format(int(serial), "X")
    return text if len(text) % 2 == 0 else "0" + text


def test_issue_list_show_revoke_with_json(cli: Sealctl, data_dir: Path) -> None:
    plain = cli("seal", "issue", "--dept", "郑州市市场监督管理局", "--kind", "公章", "--alg", "sm2")
    assert plain.exit_code == 0, plain.stderr
    sm2_code = plain.stdout.strip()
    assert sm2_code == "41010001000001"

    seal = _issue(cli)
    code = seal["code"]
    assert code == "41010005000001"
    assert (seal["status"], seal["algorithm"], seal["hierarchy"]) == ("active", "rsa2048", "rsa")
    assert seal["department"]["code"] == "ZZ-FTZ"

    listed = _ok(cli("seal", "list", "--json"))
    assert [item["code"] for item in listed] == [sm2_code, code]
    assert [i["code"] for i in _ok(cli("seal", "list", "--dept", "ZZ-FTZ", "--json"))] == [code]
    assert cli("seal", "list").exit_code == 0

    revoked = _ok(cli("seal", "revoke", code, "--reason", "key_compromise", "--json"))
    assert revoked["status"] == "revoked" and revoked["revocation_reason"] == "key_compromise"
    shown = _ok(cli("seal", "show", code, "--json"))
    assert shown["certificates"][0]["status"] == "revoked"
    assert shown["current_serial"] == seal["current_serial"]
    assert cli("seal", "show", code).exit_code == 0

    text = _crl(data_dir)
    assert f"Serial Number: {_hex(seal['current_serial'])}" in text and "Key Compromise" in text
    assert [i["code"] for i in _ok(cli("seal", "list", "--status", "revoked", "--json"))] == [code]


def test_errors_are_one_line_with_exit_codes(cli: Sealctl) -> None:
    code = _issue(cli, "--alg", "sm2")["code"]
    _fails(cli("seal", "show", "41019999999999"), "error: no seal with code '41019999999999'")
    _fails(cli("seal", "resume", code), f"cannot resume seal {code}: it is active")
    _fails(cli("seal", "revoke", code, "--reason", "stolen"), "unknown revocation reason 'stolen'")
    _fails(cli("seal", "revoke", code), "Missing option '--reason'", exit_code=2)
    _fails(cli("seal", "issue", "--dept", "ZZ-FTZ", "--kind", "私章"), "unknown seal kind '私章'")
    _fails(
        cli("seal", "issue", "--dept", "ZZ-NOPE", "--kind", "公章"),
        "no department with code or name 'ZZ-NOPE'",
    )
    _fails(cli("seal", "list", "--expiring", "soon"), "duration 'soon' must look like 30d")
    _fails(cli("seal", "image", code), "nothing to do")
    assert _ok(cli("seal", "revoke", code, "--reason", "superseded", "--json"))
    _fails(cli("seal", "revoke", code, "--reason", "key_compromise"), "is already revoked")
    _fails(cli("seal", "rotate", code), "a revoked seal can never be used again")


def test_suspend_resume_rotate_renew(cli: Sealctl, data_dir: Path) -> None:
    seal = _issue(cli)
    code, serial = seal["code"], seal["current_serial"]

    assert _ok(cli("seal", "suspend", code, "--json"))["status"] == "suspended"
    text = _crl(data_dir)
    held = text.split(f"Serial Number: {_hex(serial)}", 1)
    assert len(held) == 2 and "Certificate Hold" in held[1]
    assert _ok(cli("seal", "resume", code, "--json"))["status"] == "active"
    assert f"Serial Number: {_hex(serial)}" not in _crl(data_dir)

    rotated = _ok(cli("seal", "rotate", code, "--json"))
    assert rotated["key_id"] != seal["key_id"]
    assert [c["status"] for c in rotated["certificates"]] == ["superseded", "valid"]
    renewed = _ok(cli("seal", "renew", code, "--days", "90", "--json"))
    assert renewed["key_id"] == rotated["key_id"]
    assert [c["status"] for c in renewed["certificates"]] == ["superseded", "superseded", "valid"]
    assert cli("seal", "renew", code).exit_code == 0  # plain output


def _text(result: Result) -> str:
    """Human output with whitespace (and any line wrapping) collapsed."""
    assert result.exit_code == 0, result.stdout + result.stderr
    return " ".join(result.stdout.split())


def test_revoked_seal_is_never_shown_valid_until(
    cli: Sealctl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After rotate + revoke: no "valid until" for the seal in revoke, show or list; each of
    its certificates named revoked with time and reason; JSON carries status and times."""
    monkeypatch.setenv("COLUMNS", "200")  # rich tables: one row per line
    seal = _issue(cli, "--alg", "sm2")
    code, first = seal["code"], seal["current_serial"]
    rotated = _text(cli("seal", "rotate", code))
    assert "valid until" in rotated and "revoked" not in rotated  # plain rotate: nothing revoked

    revoke = _text(cli("seal", "revoke", code, "--reason", "key_compromise"))
    data = _ok(cli("seal", "show", code, "--json"))
    assert data["status"] == "revoked" and data["revocation_reason"] == "key_compromise"
    revoked_at = datetime.fromisoformat(data["revoked_at"])
    assert [c["revoked_at"] for c in data["certificates"]] == [data["revoked_at"]] * 2
    stamp = f"revoked {revoked_at:%Y-%m-%d %H:%M:%S}Z (key_compromise)"
    assert revoke.startswith(f"seal {code} {stamp}")
    for certificate in data["certificates"]:
        assert f"certificate {_hex(certificate['serial']).lower().lstrip('0')} " in revoke
    assert revoke.count(stamp) == 3 and "valid until" not in revoke

    show = _text(cli("seal", "show", code))
    assert "valid until" not in show and show.count(stamp) == 3, show
    assert re.search(rf"{int(first):x}\W+revoked\W", show), show  # the superseded one too
    listed = _text(cli("seal", "list", "--dept", "ZZ-FTZ"))
    assert re.search(rf"\Wrevoked\W+revoked {revoked_at:%Y-%m-%d}\W", listed), listed


def test_rotate_help_says_when_to_revoke_the_old_key(cli: Sealctl) -> None:
    text = _text(cli("seal", "rotate", "--help"))
    assert "--revoke-old" in text and "key_compromise" in text
    assert "old certificate stays valid" in text
    suspended = _issue(cli)["code"]
    assert _ok(cli("seal", "suspend", suspended, "--json"))["status"] == "suspended"
    _fails(cli("seal", "rotate", suspended, "--revoke-old", "stolen"), "unknown revocation reason")
    rotated = _ok(cli("seal", "rotate", suspended, "--revoke-old", "key_compromise", "--json"))
    assert rotated["status"] == "active"
    assert [c["status"] for c in rotated["certificates"]] == ["revoked", "valid"]
    assert rotated["certificates"][0]["revocation_reason"] == "key_compromise"


def test_list_expiring(cli: Sealctl) -> None:
    short = _issue(cli, "--alg", "sm2", "--days", "10")["code"]
    _issue(cli, "--alg", "sm2")
    assert [i["code"] for i in _ok(cli("seal", "list", "--expiring", "30d", "--json"))] == [short]
    assert _ok(cli("seal", "list", "--expiring", "1w", "--json")) == []


def _scan() -> bytes:
    """A plausible scan: a red ring and star on white paper."""
    image = Image.new("RGB", (400, 400), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 20, 380, 380), outline=(200, 20, 30), width=14)
    draw.regular_polygon((200, 200, 60), 5, fill=(200, 20, 30))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_image_generated_and_uploaded(
    cli: Sealctl, sqlite_seal_context: ServiceContext, tmp_path: Path
) -> None:
    code = _issue(cli, "--alg", "sm2")["code"]
    png, pdf = tmp_path / "seal.png", tmp_path / "seal.pdf"
    result = _ok(cli("seal", "image", code, "-o", str(png), "--pdf", str(pdf), "--json"))
    assert result == {"code": code, "image_source": "generated", "files": [str(png), str(pdf)]}
    with Image.open(png) as drawn:
        assert drawn.format == "PNG" and drawn.width > 300
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert "Pages:           1" in info.stdout

    scan = tmp_path / "scan.png"
    scan.write_bytes(_scan())
    uploaded = _ok(cli("seal", "image", code, "--upload", str(scan), "--json"))
    assert uploaded["image_source"] == "uploaded"
    assert _ok(cli("seal", "show", code, "--json"))["image_source"] == "uploaded"
    stamp_png, stamp_pdf = tmp_path / "stamp.png", tmp_path / "stamp.pdf"
    _ok(cli("seal", "image", code, "-o", str(stamp_png), "--pdf", str(stamp_pdf), "--json"))
    with Image.open(stamp_png) as stored:
        assert stored.mode == "RGBA" and stored.size == (400, 400)
        assert stored.getpixel((5, 5))[3] == 0  # the paper was made transparent
    images = subprocess.run(
        ["pdfimages", "-list", str(stamp_pdf)], capture_output=True, text=True, check=True
    )
    kinds = [line.split()[2] for line in images.stdout.splitlines()[2:]]
    assert kinds == ["image", "smask"]  # the scan, with its transparency as a soft mask

    bad = tmp_path / "scan.txt"
    bad.write_text("not an image")
    _fails(cli("seal", "image", code, "--upload", str(bad)), "seal image is not a PNG file")
    _fails(cli("seal", "image", code, "--upload", str(tmp_path / "missing.png")), "cannot read")
    assert _ok(cli("seal", "image", code, "--generated", "--json"))["image_source"] == "generated"
    with sqlite_seal_context.database.session(read_only=True) as session:
        actions = session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "seal.image")
        ).all()
    assert [json.loads(details)["source"] for details in actions] == ["uploaded", "generated"]
    with sqlite_seal_context.database.session(read_only=True) as session:
        material = seals.signing_material(session, code)
        assert seals.seal_stamp_pdf(seals.get(session, code)) == seals.seal_stamp_pdf(
            material.appearance
        )
    assert material.appearance.image_png is None


def test_reconcile_keys(cli: Sealctl, sqlite_seal_context: ServiceContext) -> None:
    _issue(cli, "--alg", "sm2")
    sqlite_seal_context.keystore.generate("sm2", label="left by a crash")
    assert _ok(cli("seal", "reconcile-keys", "--json")) == {"deleted": []}  # too young
    _fails(cli("seal", "reconcile-keys", "--older-than", "ever"), "duration 'ever'")
