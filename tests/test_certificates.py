"""Certificate profiles (pki.certificates) as openssl and gmssl see them.

Everything here is judged by tools nobody on this project wrote: ``openssl verify`` with
``-x509_strict`` (RFC 5280 conformance checks), ``openssl x509 -text`` for the extensions,
``openssl asn1parse`` for the string types, and gmssl for every SM2 signature.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509
from helpers.pki_fixtures import (
    BASE_URL,
    SM2_DISTID,
    Hierarchy,
    build_hierarchy,
    gmssl_verify,
    openssl,
    write_pem,
)

from pki import algorithms
from pki.certificates import (
    POLICY_SEAL,
    POLICY_TSA,
    Profile,
    build_name,
    certificate_pem,
    issue_certificate,
    load_certificate,
    random_serial,
)
from pki.errors import CertificateError

SEAL_NAME = "深圳市市场监督管理局行政审批专用章"


@pytest.fixture(scope="module")
def rsa_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """root.pem, issuing.pem, seal.pem, tsa.pem, ocsp.pem of the RSA hierarchy."""
    return _write_all(build_hierarchy("rsa"), tmp_path_factory.mktemp("rsa"))


@pytest.fixture(scope="module")
def sm2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_all(build_hierarchy("sm2"), tmp_path_factory.mktemp("sm2"))


def _write_all(h: Hierarchy, directory: Path) -> Path:
    for name in ("root", "issuing", "seal", "tsa", "ocsp"):
        write_pem(directory, f"{name}.pem", getattr(h, name))
    return directory


def _text(path: Path) -> str:
    result = openssl("x509", "-in", path, "-noout", "-text", "-nameopt", "utf8")
    assert result.returncode == 0, result.stderr
    return result.stdout


def _extension_block(text: str, title: str) -> str:
    """The lines of one extension in ``openssl x509 -text``: its title line and its body."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if title in line)
    indent = len(lines[start]) - len(lines[start].lstrip())
    body = [lines[start]]
    for line in lines[start + 1 :]:
        if len(line) - len(line.lstrip()) <= indent:
            break
        body.append(line)
    return "\n".join(body)


# --- RSA ------------------------------------------------------------------------------------


@pytest.mark.parametrize("leaf", ["seal", "tsa", "ocsp"])
def test_openssl_verifies_rsa_leaf_strictly(rsa_dir: Path, leaf: str) -> None:
    result = openssl(
        "verify",
        "-x509_strict",
        "-CAfile",
        rsa_dir / "root.pem",
        "-untrusted",
        rsa_dir / "issuing.pem",
        rsa_dir / f"{leaf}.pem",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(": OK")


def test_rsa_seal_certificate_as_openssl_reads_it(rsa_dir: Path) -> None:
    text = _text(rsa_dir / "seal.pem")
    assert "Signature Algorithm: sha256WithRSAEncryption" in text
    usage = _extension_block(text, "X509v3 Key Usage")
    assert "critical" in usage.splitlines()[0]
    assert usage.splitlines()[1].strip() == "Digital Signature, Non Repudiation"
    basic = _extension_block(text, "X509v3 Basic Constraints")
    assert "critical" in basic and "CA:FALSE" in basic
    assert "X509v3 Subject Key Identifier" in text
    assert "X509v3 Authority Key Identifier" in text
    assert f"Policy: {POLICY_SEAL}" in _extension_block(text, "Certificate Policies")
    crl_dp = _extension_block(text, "CRL Distribution Points")
    assert f"URI:{BASE_URL}/pki/rsa/issuing.crl" in crl_dp
    aia = _extension_block(text, "Authority Information Access")
    assert f"OCSP - URI:{BASE_URL}/pki/rsa/ocsp" in aia
    assert f"CA Issuers - URI:{BASE_URL}/pki/rsa/issuing.cer" in aia
    assert f"CN={SEAL_NAME}" in text


def test_key_identifiers_chain(rsa_dir: Path) -> None:
    """SKI of each CA = AKI of what it issued, as openssl prints them."""

    def ids(name: str) -> tuple[str, str]:
        text = _text(rsa_dir / f"{name}.pem")
        ski = _extension_block(text, "Subject Key Identifier").splitlines()[1].strip()
        aki = _extension_block(text, "Authority Key Identifier").splitlines()[1].strip()
        return ski, aki.removeprefix("keyid:")

    root_ski, root_aki = ids("root")
    issuing_ski, issuing_aki = ids("issuing")
    assert root_aki == root_ski == issuing_aki
    for leaf in ("seal", "tsa", "ocsp"):
        assert ids(leaf)[1] == issuing_ski


@pytest.mark.parametrize("name", ["root", "issuing", "seal", "tsa", "ocsp"])
def test_serial_is_positive_128_bit(name: str) -> None:
    """16 content octets, top bit clear: positive, and ≥ 64 random bits as CA/B asks."""
    h = build_hierarchy("rsa")
    serial = getattr(h, name)["tbs_certificate"]["serial_number"]
    assert len(serial.contents) == 16
    assert serial.contents[0] < 0x80 and serial.native > 0


def test_subject_strings_are_utf8(rsa_dir: Path) -> None:
    result = openssl(
        "x509",
        "-in",
        rsa_dir / "seal.pem",
        "-noout",
        "-subject",
        "-nameopt",
        "utf8,show_type,sep_multiline",
    )
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert f"CN=UTF8STRING:{SEAL_NAME}" in lines
    assert "O=UTF8STRING:深圳市市场监督管理局" in lines
    assert "C=PRINTABLESTRING:CN" in lines
    dump = openssl("asn1parse", "-in", rsa_dir / "seal.pem").stdout
    utf8 = [line.split(":", 3)[-1] for line in dump.splitlines() if "UTF8STRING" in line]
    assert SEAL_NAME in utf8


def test_tsa_certificate(rsa_dir: Path) -> None:
    text = _text(rsa_dir / "tsa.pem")
    eku = _extension_block(text, "X509v3 Extended Key Usage")
    assert "critical" in eku.splitlines()[0]
    assert eku.splitlines()[1].strip() == "Time Stamping"
    assert f"Policy: {POLICY_TSA}" in text
    result = openssl(
        "verify",
        "-purpose",
        "timestampsign",
        "-CAfile",
        rsa_dir / "root.pem",
        "-untrusted",
        rsa_dir / "issuing.pem",
        rsa_dir / "tsa.pem",
    )
    assert result.returncode == 0, result.stderr


def test_ocsp_signer_certificate(rsa_dir: Path) -> None:
    text = _text(rsa_dir / "ocsp.pem")
    eku = _extension_block(text, "X509v3 Extended Key Usage")
    assert eku.splitlines()[1].strip() == "OCSP Signing"
    assert "OCSP No Check" in text
    aia = _extension_block(text, "Authority Information Access")
    assert "OCSP - URI" not in aia  # a responder is not checked through itself
    assert "Non Repudiation" not in text


def test_cas_as_openssl_reads_them(rsa_dir: Path) -> None:
    root = _text(rsa_dir / "root.pem")
    assert "CA:TRUE, pathlen:1" in _extension_block(root, "Basic Constraints")
    assert "Certificate Sign, CRL Sign" in _extension_block(root, "X509v3 Key Usage")
    assert "CRL Distribution Points" not in root  # a root has no one above it to revoke it
    issuing = _text(rsa_dir / "issuing.pem")
    assert "CA:TRUE, pathlen:0" in _extension_block(issuing, "Basic Constraints")
    assert f"URI:{BASE_URL}/pki/rsa/root.crl" in issuing


# --- SM2 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("issuer", "subject"),
    [("root", "issuing"), ("issuing", "seal"), ("issuing", "tsa"), ("issuing", "ocsp")],
)
def test_openssl_verifies_sm2_chain_link_by_link(sm2_dir: Path, issuer: str, subject: str) -> None:
    """Each certificate against its issuer alone (``-partial_chain`` below the root)."""
    partial = [] if issuer == "root" else ["-partial_chain"]
    result = openssl(
        "verify",
        "-x509_strict",
        "-vfyopt",
        SM2_DISTID,
        *partial,
        "-CAfile",
        sm2_dir / f"{issuer}.pem",
        sm2_dir / f"{subject}.pem",
    )
    assert result.returncode == 0, result.stderr


def test_openssl_needs_the_distid_for_sm2(sm2_dir: Path) -> None:
    """Without the signer ID OpenSSL 3.0 cannot check SM2: the link must not pass silently."""
    result = openssl(
        "verify", "-partial_chain", "-CAfile", sm2_dir / "issuing.pem", sm2_dir / "seal.pem"
    )
    assert result.returncode != 0


@pytest.mark.parametrize("name", ["root", "issuing", "seal"])
def test_sm2_certificate_as_openssl_reads_it(sm2_dir: Path, name: str) -> None:
    text = _text(sm2_dir / f"{name}.pem")
    assert text.count("Signature Algorithm: SM2-with-SM3") == 2  # inner and outer
    assert "ASN1 OID: SM2" in text
    assert "Public Key Algorithm: id-ecPublicKey" in text


def test_gmssl_verifies_every_sm2_signature() -> None:
    h = build_hierarchy("sm2")
    links = [
        (h.root, h.root),
        (h.root, h.issuing),
        (h.issuing, h.seal),
        (h.issuing, h.tsa),
        (h.issuing, h.ocsp),
    ]
    for issuer, cert in links:
        tbs, signature = cert["tbs_certificate"].dump(), cert["signature_value"].native
        assert gmssl_verify(issuer.public_key, tbs, signature)
    assert not gmssl_verify(
        h.root.public_key, h.seal["tbs_certificate"].dump(), h.seal["signature_value"].native
    )


# --- issue_certificate and loading -------------------------------------------------------------


def test_validity_is_clipped_to_the_issuer() -> None:
    h = build_hierarchy("sm2")
    key = algorithms.generate(h.key_algorithm)
    cert = issue_certificate(
        profile=Profile.SEAL,
        subject=build_name(common_name="超长有效期印章"),
        subject_public_key=key.public_key_info,
        issuer_key=h.issuing_key,
        issuer_certificate=h.issuing,
        not_before=h.not_before - timedelta(days=30),
        not_after=h.not_before + timedelta(days=100 * 365),
    )
    assert cert.not_valid_after == h.issuing.not_valid_after
    assert cert.not_valid_before == h.issuing.not_valid_before


def test_dates_from_2050_are_generalized_time(tmp_path: Path) -> None:
    key = algorithms.generate("p256")
    cert = issue_certificate(
        profile=Profile.ROOT_CA,
        subject=build_name(country_name="CN", common_name="长期根CA"),
        subject_public_key=key.public_key_info,
        issuer_key=key,
        issuer_certificate=None,
        not_before=datetime(2049, 12, 31, tzinfo=UTC),
        not_after=datetime(2050, 1, 2, tzinfo=UTC),
    )
    validity = cert["tbs_certificate"]["validity"]
    assert validity["not_before"].name == "utc_time"
    assert validity["not_after"].name == "general_time"
    text = _text(write_pem(tmp_path, "long.pem", cert))
    assert "Not After : Jan  2 00:00:00 2050 GMT" in text


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_load_certificate_pem_and_der(family: str) -> None:
    seal = build_hierarchy(family).seal
    for data in (seal.dump(), certificate_pem(seal)):
        assert load_certificate(data).dump() == seal.dump()


@pytest.mark.parametrize(
    "data", [b"", b"not a certificate", b"\x30\x03\x02\x01\x01", b"-----BEGIN CERTIFICATE-----\n"]
)
def test_load_certificate_rejects_garbage(data: bytes) -> None:
    with pytest.raises(CertificateError, match=r"not a valid X\.509 certificate"):
        load_certificate(data)


def test_issue_certificate_refuses_inconsistent_input() -> None:
    h = build_hierarchy("rsa")
    common = {
        "profile": Profile.SEAL,
        "subject": build_name(common_name="测试章"),
        "subject_public_key": h.seal_key.public_key_info,
        "not_before": h.not_before,
    }
    with pytest.raises(CertificateError, match="ends before it begins"):
        issue_certificate(
            **common, issuer_key=h.issuing_key, issuer_certificate=h.issuing, not_after=h.not_before
        )
    with pytest.raises(CertificateError, match="does not match the issuer certificate"):
        issue_certificate(
            **common, issuer_key=h.root_key, issuer_certificate=h.issuing, not_after=h.valid_at
        )
    with pytest.raises(CertificateError, match="signed by its own key"):
        issue_certificate(
            **common, issuer_key=h.root_key, issuer_certificate=None, not_after=h.valid_at
        )


def test_build_name_rejects_unknown_attributes_and_missing_cn() -> None:
    with pytest.raises(CertificateError, match="unsupported name attribute"):
        build_name(common_name="章", email_address="a@example.cn")
    with pytest.raises(CertificateError, match="common name"):
        build_name(organization_name="深圳市市场监督管理局")
    assert isinstance(build_name(common_name="章"), x509.Name)


def test_random_serials_always_have_16_octets() -> None:
    """Many draws, so a generator that can lose its top byte (1 in 128) fails here."""
    for _ in range(2000):
        serial = random_serial()
        assert serial.bit_length() == 127 and serial.to_bytes(16, "big")[0] < 0x80
