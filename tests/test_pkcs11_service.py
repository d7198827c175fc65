"""The service with its keys in a SoftHSM2 token (issue 19 §3), end to end.

``sealctl init`` on a service configured with a token puts the RSA CA, OCSP and TSA keys
in the token (SM2 stays in software: SoftHSM2 has no SM2); RSA-2048 and P-256 seals made
there seal PDFs that poppler's ``pdfsig`` calls valid and trusted after the README's
recipe (whose ``crl publish`` signs the CRLs in the token); ``openssl`` verifies the CRL
and an OCSP answer signed in the token.  A seal made in software moves to the token by
``sealctl seal rotate``.  ``sealctl token`` lists, shows and makes keys, audited; the PIN
never shows in any output or in the audit log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from asn1crypto import pem
from click.testing import Result
from helpers.local import TEST_PASSPHRASE
from helpers.pdf_fixtures import ANCHOR, chinese_pdf
from helpers.readme_recipes import pdfsig_recipe
from helpers.server import running_server
from sqlalchemy import select

from pki.pkcs11_keystore import CompositeKeyStore
from sealsvc import departments, seals
from sealsvc.config import Settings
from sealsvc.context import ServiceContext
from sealsvc.models import AuditEntry, Certificate
from sealsvc.trust_services import TrustServices

if TYPE_CHECKING:
    from helpers.pkcs11_fixtures import SoftHsm

pytest_plugins = ("helpers.pkcs11_fixtures",)  # softhsm

Sealctl = Callable[..., Result]


@pytest.fixture
def with_token(softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    """The test's data directory, configured to use the run's token."""
    for name, value in softhsm.environ().items():
        monkeypatch.setenv(name, value)
    return Settings.load(settings.data_dir)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def context_for(settings: Settings) -> ServiceContext:
    return ServiceContext(Settings.load(settings.data_dir))


def run_sealctl(*args: str, cwd: Path) -> str:
    """``sealctl`` as its own process, as an operator runs it (token settings from the
    environment, the PIN from its file)."""
    environ = dict(os.environ)
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ['PATH']}"
    result = subprocess.run(
        ["sealctl", *args], cwd=cwd, env=environ, capture_output=True, text=True,
        timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def seal_pdf(code: str, directory: Path, name: str) -> Path:
    """Seal a PDF with ``sealctl sign`` in its own process, as an operator does (which
    is how this test found ``datadir.prepare`` dropping the SQLite locks of the process:
    see ``test_preparing_an_open_database_keeps_its_locks``)."""
    (directory / "some.pdf").write_bytes(chinese_pdf())
    out = directory / name
    run_sealctl("--data-dir", "data", "sign", "some.pdf", "--seal", code, "--level", "B-LT",
                "--anchor", ANCHOR, "-o", name, cwd=directory)  # fmt: skip
    return out


def pdfsig_report(directory: Path, pdf: str) -> str:
    """The README's pdfsig recipe (CRLs published through the token) run on ``pdf``."""
    shutil.rmtree(directory / "nssdb", ignore_errors=True)  # certutil -N would prompt
    script = pdfsig_recipe().replace("sealed.pdf", pdf)
    environ = {k: v for k, v in os.environ.items() if k != "SEALSVC_PASSPHRASE"}
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ['PATH']}"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=directory, env=environ, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_ca_and_seal_keys_in_the_token_seal_pdfs_that_pdfsig_and_openssl_accept(
    with_token: Settings, sealctl: Sealctl, softhsm: SoftHsm, tmp_path: Path
) -> None:
    data_dir = with_token.data_dir
    assert data_dir == tmp_path / "data"
    (data_dir / "dev-passphrase").write_text(TEST_PASSPHRASE + "\n")
    init = ok(sealctl("init", "--dev", "--json"))
    context = context_for(with_token)
    keystore = context.keystore
    assert isinstance(keystore, CompositeKeyStore)
    with context.database.session() as session:
        departments.import_seed(session, actor="test")
        rows = session.scalars(select(Certificate)).all()
    where = {(row.hierarchy, row.profile): keystore.location(row.key_id) for row in rows}
    assert {where[("rsa", p)] for p in ("root_ca", "issuing_ca", "tsa", "ocsp")} == {"token"}
    assert {v for (h, _), v in where.items() if h == "sm2"} == {"software"}

    codes = {
        alg: seals.issue(context, department="ZZ-D26", kind="公章", algorithm=alg, actor="t").code
        for alg in ("rsa", "p256")
    }
    listed = json.loads(ok(sealctl("token", "list", "--json")).output)
    assert listed["token"] == softhsm.token_label
    by_id = {key["key_id"]: key for key in listed["keys"]}
    with context.database.session(read_only=True) as session:
        for code in codes.values():
            view = seals.show(session, code)
            assert keystore.location(view.key_id) == "token"
            assert by_id[view.key_id]["certificates"] == [
                format(int(view.current_certificate.serial), "x")
            ]

    context.close()
    for alg, code in codes.items():
        seal_pdf(code, tmp_path, f"sealed-{alg}.pdf")
        report = pdfsig_report(tmp_path, f"sealed-{alg}.pdf")
        assert "Signature Validation: Signature is Valid." in report, report
        assert "Certificate Validation: Certificate is Trusted." in report, report

    context = context_for(with_token)
    # The CRL the recipe published was signed in the token: openssl checks it.
    ca = data_dir / "ca"
    crl = subprocess.run(
        ["openssl", "crl", "-in", str(ca / "rsa-issuing.crl"), "-CAfile",
         str(ca / "rsa-issuing.pem"), "-noout"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert crl.returncode == 0 and "verify OK" in crl.stdout + crl.stderr, crl.stderr

    # An OCSP answer signed by the OCSP key in the token: openssl verifies it to the root.
    with context.database.session(read_only=True) as session:
        serial = seals.show(session, codes["rsa"]).current_certificate.serial
        der = session.scalars(select(Certificate.der).where(Certificate.serial == serial)).one()
    (tmp_path / "seal.pem").write_bytes(pem.armor("CERTIFICATE", der))
    openssl_ocsp = ["openssl", "ocsp", "-issuer", str(ca / "rsa-issuing.pem")]
    subprocess.run(
        [*openssl_ocsp, "-cert", "seal.pem", "-reqout", "req.der"], cwd=tmp_path, check=True
    )
    answer = TrustServices(context).ocsp("rsa").respond((tmp_path / "req.der").read_bytes())
    (tmp_path / "resp.der").write_bytes(answer)
    checked = subprocess.run(
        [*openssl_ocsp, "-reqin", "req.der", "-respin", "resp.der", "-CAfile",
         str(ca / "rsa-root.pem"), "-resp_text"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "Response verify OK" in checked.stderr, checked.stdout + checked.stderr
    assert "Cert Status: good" in checked.stdout
    context.close()

    # The PIN never shows: not in what the commands printed, not in the audit log.
    with context_for(with_token).database.session(read_only=True) as session:
        audit_text = json.dumps([e.details for e in session.scalars(select(AuditEntry))])
    assert softhsm.pin not in init.output + json.dumps(listed) + audit_text


def test_rotation_moves_a_software_seal_into_the_token(
    settings: Settings, sealctl: Sealctl, softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(sealctl("init", "--dev"))
    before = context_for(settings)
    with before.database.session() as session:
        departments.import_seed(session, actor="test")
    issued = seals.issue(before, department="ZZ-D26", kind="公章", algorithm="rsa", actor="t")
    old_key = issued.key_id
    assert not isinstance(before.keystore, CompositeKeyStore)  # no token configured yet
    before.close()

    for name, value in softhsm.environ().items():
        monkeypatch.setenv(name, value)
    rotated = json.loads(ok(sealctl("seal", "rotate", issued.code, "--json")).output)
    after = context_for(settings)
    assert rotated["key_id"] != old_key
    assert after.keystore.location(rotated["key_id"]) == "token"
    assert after.keystore.location(old_key) == "software"  # kept: old documents verify
    old = next(
        c for c in rotated["certificates"] if c["serial"] == issued.current_certificate.serial
    )
    assert old["status"] == "superseded"
    after.close()
    # The rotated seal signs in the token and its seal still verifies.
    sealed = seal_pdf(issued.code, settings.data_dir.parent, "rotated.pdf")
    verified = ok(sealctl("verify", str(sealed), "--json"))
    assert json.loads(verified.output)["verdict"] == "TOTAL_PASSED", verified.output


def test_token_commands_are_audited_and_refuse_clearly(
    with_token: Settings, sealctl: Sealctl, softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(sealctl("init", "--dev"))
    made = json.loads(ok(sealctl("token", "init-key", "--alg", "p256", "--json")).output)
    assert made["self_test"] == "ok" and made["token"] == softhsm.token_label
    shown = json.loads(ok(sealctl("token", "show", made["key_id"], "--json")).output)
    assert shown["protection"]["sensitive"] is True
    assert shown["protection"]["extractable"] is False
    assert shown["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    ok(sealctl("token", "list"))
    context = context_for(with_token)
    with context.database.session(read_only=True) as session:
        actions = [e.action for e in session.scalars(select(AuditEntry))]
    assert actions[-3:] == ["key.generate", "token.show", "token.list"]
    context.keystore.delete(made["key_id"])
    context.close()

    refused = sealctl("token", "init-key", "--alg", "sm2")
    assert refused.exit_code == 1 and "a token key is one of" in refused.output
    unknown = sealctl("token", "show", "0" * 40)
    assert unknown.exit_code == 1 and "no key" in unknown.output

    wrong_pin = with_token.data_dir.parent / "wrong-pin"
    wrong_pin.write_text("000000\n")
    monkeypatch.setenv("SEALSVC_PKCS11_PIN_FILE", str(wrong_pin))
    result = sealctl("token", "list")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: the token {softhsm.token_label!r} refused the PIN"
    ]
    assert "000000" not in result.output

    for name in ("SEALSVC_PKCS11_MODULE", "SEALSVC_PKCS11_TOKEN"):
        monkeypatch.delenv(name)
    result = sealctl("token", "list")
    assert result.exit_code == 1 and "no PKCS#11 token configured" in result.output


@pytest.mark.slow
def test_a_served_node_with_two_workers_seals_concurrently_in_the_token(
    softhsm: SoftHsm, tmp_path: Path
) -> None:
    """``sealctl serve --workers 2`` (two processes, each a thread pool) on a token: the
    first start makes the RSA demo seals' keys in the token, and sixteen concurrent
    requests are each sealed, audited, and verify."""
    with running_server(tmp_path / "data", workers=2, env=softhsm.environ()) as server:
        code = server.demo_seal("ZZ-FTZ", "rsa").code
        listed = server.sealctl("token", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        with httpx.Client(base_url=server.url, timeout=60) as client:
            assert client.get("/readyz").status_code == 200
        shown = server.sealctl("seal", "show", code, "--json")
        key_id = json.loads(shown.stdout)["key_id"]
        assert key_id in {key["key_id"] for key in json.loads(listed.stdout)["keys"]}

        def sign(_: int) -> httpx.Response:
            with server.client() as client:
                return client.post(
                    f"/v1/seals/{code}/sign",
                    content=chinese_pdf(1),
                    params={"level": "B-T"},
                    headers={"Content-Type": "application/pdf"},
                )

        with ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(sign, range(16)))
        assert [r.status_code for r in responses] == [200] * 16, [r.text for r in responses]
        for number, response in enumerate(responses[:3]):
            (tmp_path / f"{number}.pdf").write_bytes(response.content)
            verified = server.sealctl("verify", str(tmp_path / f"{number}.pdf"), "--json")
            assert json.loads(verified.stdout)["verdict"] == "TOTAL_PASSED", verified.stdout
    assert softhsm.pin not in server.log.read_text()
