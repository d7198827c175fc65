"""CRLs (pki.crl) for both hierarchies, judged by openssl and gmssl.

RSA CRLs go through ``openssl crl -verify`` and ``openssl verify -crl_check``.  OpenSSL 3.0
has no way to pass the SM2 signer ID to ``openssl crl`` (measured with 3.0.19: ``openssl
crl -verify`` prints "verify failure" for a good SM2 CRL, and still exits 0), so an SM2 CRL's
signature is checked over its extracted TBSCertList with ``openssl pkeyutl -verify -rawin
-digest sm3 -pkeyopt distid:…``, with gmssl, and with ``verify_crl_signature``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import crl
from helpers.pki_fixtures import (
    SM2_DISTID,
    Hierarchy,
    build_hierarchy,
    flip_last_byte_of,
    gmssl_verify,
    openssl,
    write_pem,
    write_public_key,
)

from pki.crl import RevokedEntry, build_crl, crl_pem, load_crl, verify_crl_signature
from pki.errors import CertificateError, SignatureInvalid

CRL_NUMBER = 7


def _issuing_crl(h: Hierarchy, *revoked: RevokedEntry, number: int = CRL_NUMBER):
    return build_crl(
        issuer_certificate=h.issuing,
        issuer_key=h.issuing_key,
        revoked=revoked,
        crl_number=number,
        this_update=h.valid_at - timedelta(hours=1),
        next_update=h.valid_at + timedelta(days=7),
    )


def _revocations(h: Hierarchy) -> tuple[RevokedEntry, RevokedEntry]:
    """The seal revoked for key compromise, the TSA certificate on hold."""
    return (
        RevokedEntry(h.seal.serial_number, h.valid_at, "key_compromise"),
        RevokedEntry(h.tsa.serial_number, h.valid_at - timedelta(minutes=5), "certificate_hold"),
    )


def _write_crl(directory: Path, name: str, certificate_list: crl.CertificateList) -> Path:
    path = directory / name
    path.write_bytes(crl_pem(certificate_list))
    return path


def _tampered(certificate_list: crl.CertificateList) -> crl.CertificateList:
    """The CRL with one revoked serial changed (the signature is left as it was)."""
    first = certificate_list["tbs_cert_list"]["revoked_certificates"][0]["user_certificate"]
    return crl.CertificateList.load(flip_last_byte_of(certificate_list.dump(), first.contents))


# --- RSA ------------------------------------------------------------------------------------


def test_openssl_accepts_rsa_crls(tmp_path: Path) -> None:
    h = build_hierarchy("rsa")
    root_crl = build_crl(
        issuer_certificate=h.root,
        issuer_key=h.root_key,
        revoked=[],
        crl_number=1,
        this_update=h.valid_at,
        next_update=h.valid_at + timedelta(days=180),
    )
    for issuer, certificate_list in [(h.root, root_crl), (h.issuing, _issuing_crl(h))]:
        ca = write_pem(tmp_path, "ca.pem", issuer)
        path = _write_crl(tmp_path, "x.crl", certificate_list)
        result = openssl("crl", "-in", path, "-verify", "-CAfile", ca, "-noout")
        assert "verify OK" in result.stderr, result.stderr


def test_openssl_rejects_a_tampered_rsa_crl(tmp_path: Path) -> None:
    h = build_hierarchy("rsa")
    bad = _tampered(_issuing_crl(h, *_revocations(h)))
    ca = write_pem(tmp_path, "ca.pem", h.issuing)
    path = _write_crl(tmp_path, "bad.crl", bad)
    result = openssl("crl", "-in", path, "-verify", "-CAfile", ca, "-noout")
    assert "verify failure" in result.stderr and "verify OK" not in result.stderr
    with pytest.raises(SignatureInvalid):
        verify_crl_signature(bad, h.issuing)


def test_openssl_lists_revoked_and_held_serials(tmp_path: Path) -> None:
    h = build_hierarchy("rsa")
    path = _write_crl(tmp_path, "issuing.crl", _issuing_crl(h, *_revocations(h)))
    text = openssl("crl", "-in", path, "-noout", "-text", "-nameopt", "utf8").stdout
    assert "Version 2 (0x1)" in text
    assert "CN=深圳市电子印章签发CA（RSA）" in text
    number = text.split("X509v3 CRL Number:")[1].split()[0]
    assert number == str(CRL_NUMBER)
    assert "X509v3 Authority Key Identifier" in text
    entries = text.split("Serial Number: ")[1:]
    reasons = {}
    for entry in entries:  # "<hex serial>\n  Revocation Date: …\n  X509v3 CRL Reason Code: \n  <r>"
        reason_lines = entry.split("X509v3 CRL Reason Code:")[1].splitlines()
        reasons[int(entry.split()[0], 16)] = reason_lines[1].strip()
    assert reasons == {
        h.seal.serial_number: "Key Compromise",
        h.tsa.serial_number: "Certificate Hold",
    }


def test_openssl_crl_check_sees_revoked_and_held_certificates(tmp_path: Path) -> None:
    """``openssl verify -crl_check``: seal revoked, TSA on hold (also 'revoked'), OCSP fine."""
    h = build_hierarchy("rsa")
    crl_path = _write_crl(tmp_path, "issuing.crl", _issuing_crl(h, *_revocations(h)))
    root, issuing = write_pem(tmp_path, "root.pem", h.root), write_pem(tmp_path, "i.pem", h.issuing)
    outcome = {}
    for name, (cert, _) in h.leaves.items():
        leaf = write_pem(tmp_path, f"{name}.pem", cert)
        result = openssl(
            "verify",
            "-crl_check",
            "-CRLfile",
            crl_path,
            "-CAfile",
            root,
            "-untrusted",
            issuing,
            leaf,
        )
        outcome[name] = "certificate revoked" in result.stdout + result.stderr
        assert (result.returncode == 0) is not outcome[name]
    assert outcome == {"seal": True, "tsa": True, "ocsp": False}


def test_empty_crl(tmp_path: Path) -> None:
    h = build_hierarchy("rsa")
    path = _write_crl(tmp_path, "empty.crl", _issuing_crl(h))
    text = openssl("crl", "-in", path, "-noout", "-text").stdout
    assert "No Revoked Certificates." in text


# --- SM2 ------------------------------------------------------------------------------------


def _pkeyutl_verify(tmp: Path, h: Hierarchy, certificate_list: crl.CertificateList) -> bool:
    (tmp / "tbs.der").write_bytes(certificate_list["tbs_cert_list"].dump())
    (tmp / "sig.der").write_bytes(certificate_list["signature"].native)
    key = write_public_key(tmp, "issuer_pub.pem", h.issuing.public_key)
    result = openssl(
        "pkeyutl",
        "-verify",
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        SM2_DISTID,
        "-pubin",
        "-inkey",
        key,
        "-in",
        tmp / "tbs.der",
        "-sigfile",
        tmp / "sig.der",
    )
    ok = result.returncode == 0
    assert ok is ("Signature Verified Successfully" in result.stdout), result.stdout + result.stderr
    return ok


def test_sm2_crl_signature_checked_three_ways(tmp_path: Path) -> None:
    h = build_hierarchy("sm2")
    good = _issuing_crl(h, *_revocations(h))
    assert good["signature_algorithm"]["algorithm"].native == "sm2_sm3"
    assert _pkeyutl_verify(tmp_path, h, good)
    assert gmssl_verify(
        h.issuing.public_key, good["tbs_cert_list"].dump(), good["signature"].native
    )
    verify_crl_signature(good, h.issuing)

    bad = _tampered(good)
    assert not _pkeyutl_verify(tmp_path, h, bad)
    assert not gmssl_verify(
        h.issuing.public_key, bad["tbs_cert_list"].dump(), bad["signature"].native
    )
    with pytest.raises(SignatureInvalid):
        verify_crl_signature(bad, h.issuing)


def test_sm2_crl_reads_in_openssl(tmp_path: Path) -> None:
    h = build_hierarchy("sm2")
    path = _write_crl(tmp_path, "sm2.crl", _issuing_crl(h, *_revocations(h)))
    text = openssl("crl", "-in", path, "-noout", "-text").stdout
    assert "Signature Algorithm: SM2-with-SM3" in text
    assert f"{h.seal.serial_number:032X}" in text and "Key Compromise" in text


# --- verify_crl_signature, load_crl and build_crl's guards -----------------------------------


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_verify_crl_signature_wants_the_right_issuer(family: str) -> None:
    h = build_hierarchy(family)
    good = _issuing_crl(h)
    verify_crl_signature(good, h.issuing)
    with pytest.raises(SignatureInvalid, match="issuer name differs"):
        verify_crl_signature(good, h.root)
    other = build_hierarchy("sm2" if family == "rsa" else "rsa")
    with pytest.raises(SignatureInvalid):
        verify_crl_signature(good, other.issuing)


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_load_crl_pem_and_der(family: str) -> None:
    h = build_hierarchy(family)
    good = _issuing_crl(h, *_revocations(h))
    for data in (good.dump(), crl_pem(good)):
        loaded = load_crl(data)
        assert loaded.dump() == good.dump()
        verify_crl_signature(loaded, h.issuing)
    assert load_crl(good.dump())["tbs_cert_list"]["crl_extensions"][0]["extn_value"].native == 7


@pytest.mark.parametrize("data", [b"", b"junk", b"\x30\x03\x02\x01\x01"])
def test_load_crl_rejects_garbage(data: bytes) -> None:
    with pytest.raises(CertificateError, match="not a valid CRL"):
        load_crl(data)


def test_build_crl_guards() -> None:
    h = build_hierarchy("sm2")
    with pytest.raises(CertificateError, match="unknown revocation reason"):
        RevokedEntry(1, h.valid_at, "lost_it")
    with pytest.raises(CertificateError, match="nextUpdate"):
        build_crl(
            issuer_certificate=h.issuing,
            issuer_key=h.issuing_key,
            revoked=[],
            crl_number=1,
            this_update=h.valid_at,
            next_update=h.valid_at,
        )
    with pytest.raises(CertificateError, match="does not match"):
        build_crl(
            issuer_certificate=h.issuing,
            issuer_key=h.root_key,
            revoked=[],
            crl_number=1,
            this_update=h.valid_at,
            next_update=h.valid_at + timedelta(days=1),
        )


def test_entries_are_sorted_by_serial() -> None:
    h = build_hierarchy("rsa")
    entries = [RevokedEntry(serial, h.valid_at) for serial in (30, 10, 20)]
    built = _issuing_crl(h, *entries)
    serials = [e["user_certificate"].native for e in built["tbs_cert_list"]["revoked_certificates"]]
    assert serials == [10, 20, 30]
