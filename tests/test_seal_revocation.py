"""Revoking a seal revokes every key it ever had (issue #14 §3), end to end on SQLite.

A seal seals documents with its first key, is rotated (plainly, or with ``--revoke-old``)
and revoked; then the service's own published answers are read back with tools nobody
here wrote and through the service's HTTP routes (in-process ``TestClient``):

* ``GET /pki/{h}/issuing.crl`` → ``openssl crl -text``: which serials, which reason;
* ``openssl ocsp -reqout`` → ``POST /pki/{h}/ocsp`` → ``openssl ocsp -respin``: each
  serial's status line (RSA: signature verified up to the root; SM2: OpenSSL 3.0 cannot
  check an SM2 OCSP signature, so :func:`pki.ocsp.parse_response` does);
* ``POST /v1/verify`` on documents sealed with the old key: with a time-stamp from before
  the revocation still TOTAL_PASSED, without one INDETERMINATE/REVOKED_NO_POE, and one
  time-stamped after it (a leaked key used later) TOTAL_FAILED/REVOKED.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from helpers.pdf_fixtures import chinese_pdf
from helpers.pki_fixtures import openssl
from sqlalchemy import select

from api.app import create_app
from pki.certificates import certificate_pem, load_certificate
from pki.ocsp import parse_response
from sealsvc import seals
from sealsvc.context import ServiceContext
from sealsvc.models import AuditEntry, Certificate, utcnow
from sealsvc.pades import Level, Placement, SealingMaterial, SealOptions, TsaTimeStamper, seal_pdf
from sealsvc.sealing import Sealer

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

ACTOR = "test:revocation"
Sealctl = Callable[..., Result]


@dataclass
class Service:
    """The seal registry, a sealer and the HTTP app on one data directory."""

    context: ServiceContext
    client: TestClient
    sealer: Sealer
    directory: Path

    def issue(self, algorithm: str) -> seals.SealView:
        return seals.issue(
            self.context,
            department="ZZ-FTZ",
            kind="行政审批专用章",
            algorithm=algorithm,
            actor=ACTOR,
        )

    def seal(self, code: str, level: Level) -> bytes:
        options = SealOptions(level=level, placement=Placement(invisible=True))
        return self.sealer.seal(chinese_pdf(1), code, options, actor=ACTOR).pdf

    def seal_with_retired_key(self, serial: str) -> bytes:
        """A B-T document sealed with a retired certificate's key, as whoever holds a copy
        of the key could: the key, certificate and chain straight from the store, and a
        time-stamp from the service's public TSA (the service itself never does this)."""
        with self.context.database.session(read_only=True) as session:
            row = session.scalars(select(Certificate).where(Certificate.serial == serial)).one()
            key_id, der, hierarchy = row.key_id, row.der, row.hierarchy
            ca_set = self.context.ca.ca_set(session, hierarchy)
            chain = (load_certificate(ca_set.issuing.der), load_certificate(ca_set.root.der))
        trust = self.sealer.trust
        material = SealingMaterial(
            key=self.context.keystore.signer(key_id),
            certificate=load_certificate(der),
            chain=chain,
            stamp_pdf=None,
            timestamper=TsaTimeStamper(trust.tsa(hierarchy).respond),
            validation_data=None,
        )
        options = SealOptions(level=Level.B_T, placement=Placement(invisible=True))
        return seal_pdf(chinese_pdf(1), material, options)

    def verify(self, pdf: bytes) -> dict:
        response = self.client.post("/v1/verify", files={"file": ("doc.pdf", pdf)})
        assert response.status_code == 200, response.text
        return response.json()

    def certificate_pem(self, serial: str) -> Path:
        """The certificate with ``serial`` as ``<serial>.pem``, and its issuer as ``issuing.pem``
        and the root as ``root.pem`` (the issuing CA and root of its hierarchy)."""
        with self.context.database.session(read_only=True) as session:
            row = session.scalars(select(Certificate).where(Certificate.serial == serial)).one()
            ca_set = self.context.ca.ca_set(session, row.hierarchy)
            ders = {serial: row.der, "issuing": ca_set.issuing.der, "root": ca_set.root.der}
        for name, der in ders.items():
            (self.directory / f"{name}.pem").write_bytes(certificate_pem(load_certificate(der)))
        return self.directory / f"{serial}.pem"

    def crl_text(self, hierarchy: str) -> str:
        """The issuing CA's CRL as the service serves it, read by ``openssl crl -text``."""
        response = self.client.get(f"/pki/{hierarchy}/issuing.crl")
        assert response.status_code == 200, response.text
        path = self.directory / f"{hierarchy}-issuing.crl"
        path.write_bytes(response.content)
        result = openssl("crl", "-inform", "DER", "-text", "-noout", "-in", path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def ocsp(self, hierarchy: str, serials: list[str]) -> dict[str, str]:
        """``openssl ocsp`` asks the service's responder about ``serials`` in one request;
        returns serial → openssl's status block (``revoked`` + reason + time, or ``good``)."""
        for serial in serials:
            self.certificate_pem(serial)
        cert_options = [option for s in serials for option in ("-cert", f"{s}.pem")]
        request = self.directory / "status.req"
        made = openssl(
            "ocsp", "-issuer", "issuing.pem", *cert_options, "-reqout", request,
            "-no_nonce", cwd=self.directory,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        response = self.client.post(
            f"/pki/{hierarchy}/ocsp",
            content=request.read_bytes(),
            headers={"Content-Type": "application/ocsp-request"},
        )
        assert response.status_code == 200, response.text
        (self.directory / "status.resp").write_bytes(response.content)
        if hierarchy == "sm2":  # OpenSSL 3.0 cannot verify SM2 OCSP signatures: we do
            issuing = load_certificate((self.directory / "issuing.pem").read_bytes())
            answers = parse_response(response.content, issuing, request_der=request.read_bytes())
            assert {str(a.serial_number) for a in answers} == set(serials)
            trust = ["-noverify"]
        else:
            trust = ["-CAfile", "root.pem"]
        result = openssl(
            "ocsp", "-respin", "status.resp", "-issuer", "issuing.pem", *cert_options,
            *trust, "-no_nonce", cwd=self.directory,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        if hierarchy == "rsa":
            assert "Response verify OK" in result.stderr, result.stderr
        blocks = re.split(r"^(?=\S+\.pem: )", result.stdout, flags=re.M)
        found = {b.split(".pem: ", 1)[0]: b.split(".pem: ", 1)[1] for b in blocks if ".pem: " in b}
        assert set(found) == set(serials), result.stdout
        return found


def crl_entry(text: str, serial: str) -> str | None:
    """The block of ``serial`` in ``openssl crl -text`` output, if the CRL lists it."""
    hex_serial = format(int(serial), "X")
    hex_serial = hex_serial if len(hex_serial) % 2 == 0 else "0" + hex_serial
    match = re.search(
        rf"Serial Number: {hex_serial}\n(.*?)(?=Serial Number:|Signature Algorithm)", text, re.S
    )
    return match.group(1) if match else None


@pytest.fixture
def service(sqlite_seal_context: ServiceContext, tmp_path: Path) -> Iterator[Service]:
    context = sqlite_seal_context
    with context.database.session(read_only=True) as session:
        context.ca.export_files(session)  # the roots /v1/verify trusts, as serve writes them
    app = create_app(context.settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Service(context, client, app.state.sealer, tmp_path)
    app.state.context.close()


def _verdict(report: dict) -> tuple[str, str | None]:
    return report["verdict"], report["sub_indication"]


def _revocation_actions(context: ServiceContext, code: str) -> list[tuple[str, str | None]]:
    """(action, serial) of the seal's ``cert.revoke`` entries, in order."""
    with context.database.session(read_only=True) as session:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.seal_code == code, AuditEntry.action == "cert.revoke")
            .order_by(AuditEntry.seq)
        ).all()
        return [(e.action, json.loads(e.details)["serial"]) for e in entries]


# --- rotate, then revoke --------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["rsa", "sm2"])
def test_revoke_after_rotate_revokes_the_superseded_key_too(
    service: Service, algorithm: str
) -> None:
    view = service.issue(algorithm)
    hierarchy = view.hierarchy
    old = view.current_certificate.serial
    untimed = service.seal(view.code, Level.B_B)
    stamped = service.seal(view.code, Level.B_T)
    new = seals.rotate(service.context, view.code, actor=ACTOR).current_certificate.serial

    seals.revoke(service.context, view.code, reason="key_compromise", actor=ACTOR)

    text = service.crl_text(hierarchy)
    for serial in (old, new):
        entry = crl_entry(text, serial)
        assert entry is not None, f"{serial} not on the CRL:\n{text}"
        assert "Key Compromise" in entry
    statuses = service.ocsp(hierarchy, [old, new])
    for serial in (old, new):
        assert statuses[serial].startswith("revoked"), statuses
        assert "Reason: keyCompromise" in statuses[serial]
    assert sorted(s for _, s in _revocation_actions(service.context, view.code)) == sorted(
        [old, new]
    )

    # proof of existence before the revocation keeps the old key's document; none: open
    assert _verdict(service.verify(stamped)) == ("TOTAL_PASSED", None)
    report = service.verify(untimed)
    assert _verdict(report) == ("INDETERMINATE", "REVOKED_NO_POE"), report["message"]
    assert report["signatures"][0]["signer"]["serial_hex"] == format(int(old), "x")

    # whoever holds a copy of the old key gets nothing from a time-stamp taken after
    with service.context.database.session(read_only=True) as session:
        revoked_at = seals.show(session, view.code).revoked_at
    assert revoked_at is not None
    time.sleep(max(0.0, (revoked_at - utcnow()).total_seconds()) + 0.05)
    forged = service.verify(service.seal_with_retired_key(old))
    assert _verdict(forged) == ("TOTAL_FAILED", "REVOKED"), forged["message"]


# --- rotate --revoke-old, and plain rotate ---------------------------------------------------


@pytest.mark.parametrize("algorithm", ["rsa", "sm2"])
def test_rotate_revoke_old_rekeys_and_revokes_in_one_step(
    service: Service, sealctl: Sealctl, algorithm: str
) -> None:
    view = service.issue(algorithm)
    old = view.current_certificate.serial
    untimed = service.seal(view.code, Level.B_B)
    stamped = service.seal(view.code, Level.B_T)

    result = sealctl("seal", "rotate", view.code, "--revoke-old", "key_compromise")
    assert result.exit_code == 0, result.stdout + result.stderr
    output = " ".join(result.stdout.split())
    assert "valid until" in output  # the new certificate is
    assert f"certificate {int(old):x} (key {view.key_id}) revoked " in output
    assert "(key_compromise)" in output

    with service.context.database.session(read_only=True) as session:
        rotated = seals.show(session, view.code)
    new = rotated.current_certificate.serial
    assert rotated.status.value == "active" and new != old
    statuses = service.ocsp(view.hierarchy, [old, new])
    assert statuses[old].startswith("revoked") and "Reason: keyCompromise" in statuses[old]
    assert statuses[new].startswith("good"), statuses
    text = service.crl_text(view.hierarchy)
    assert "Key Compromise" in (crl_entry(text, old) or "")
    assert crl_entry(text, new) is None
    assert [s for _, s in _revocation_actions(service.context, view.code)] == [old]

    assert _verdict(service.verify(stamped)) == ("TOTAL_PASSED", None)
    assert _verdict(service.verify(untimed)) == ("INDETERMINATE", "REVOKED_NO_POE")
    # sealctl verify learns it from the same registry, and gates on it
    for pdf, exit_code, verdict in (
        (stamped, 0, ("TOTAL_PASSED", None)),
        (untimed, 1, ("INDETERMINATE", "REVOKED_NO_POE")),
    ):
        path = service.directory / "document.pdf"
        path.write_bytes(pdf)
        checked = sealctl("verify", str(path), "--json")
        assert checked.exit_code == exit_code, checked.stdout + checked.stderr
        assert _verdict(json.loads(checked.stdout)) == verdict
    fresh = service.seal(view.code, Level.B_B)  # the new key seals and verifies
    assert _verdict(service.verify(fresh)) == ("TOTAL_PASSED", None)


def test_plain_rotate_leaves_the_old_serial_good(service: Service) -> None:
    view = service.issue("rsa")
    old = view.current_certificate.serial
    untimed = service.seal(view.code, Level.B_B)
    new = seals.rotate(service.context, view.code, actor=ACTOR).current_certificate.serial

    statuses = service.ocsp("rsa", [old, new])
    assert statuses[old].startswith("good") and statuses[new].startswith("good"), statuses
    assert crl_entry(service.crl_text("rsa"), old) is None
    assert _verdict(service.verify(untimed)) == ("TOTAL_PASSED", None)
    assert _revocation_actions(service.context, view.code) == []
