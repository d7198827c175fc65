"""A complete test PKI in memory: root CA → issuing CA → seal, TSA and OCSP-signer leaves.

Tests across the project (certificates, CRL, chain, TSA, OCSP, CMS, PAdES) need the same
realistic hierarchy; building it here once keeps every test on real keys and real DER, with
the subjects a Chinese city government would actually put into its certificates (UTF8String
organisation, department and seal names, a unified social credit code as serialNumber).

``build_hierarchy(family)`` is cached per process (key generation dominates test time), so
treat the returned objects as read-only; use :func:`issue_leaf` for a certificate of your own.
Import it from a test module as ``from pki_fixtures import build_hierarchy`` (pytest puts
``tests/`` on ``sys.path``).

Validity is anchored on the real clock (openssl checks certificates against *now*):
everything starts :data:`BACKDATE` ago; :attr:`Hierarchy.valid_at` is a moment at which the
whole hierarchy is valid.
"""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import algos, crl, keys, pem, x509
from gmssl import sm2 as gmssl_sm2

from pki import algorithms
from pki.algorithms import KeyAlgorithm, SigningKey
from pki.certificates import IssuerUrls, Profile, build_name, certificate_pem, issue_certificate
from pki.crl import build_crl

__all__ = [
    "BACKDATE",
    "BASE_URL",
    "FAMILIES",
    "SM2_DISTID",
    "Hierarchy",
    "build_hierarchy",
    "empty_crls",
    "flip_last_byte_of",
    "gmssl_verify",
    "issue_leaf",
    "openssl",
    "resign",
    "write_pem",
    "write_public_key",
]

SM2_DISTID = "distid:1234567812345678"
"""The option OpenSSL 3.0 needs (``-vfyopt`` / ``-pkeyopt``) before it checks an SM2 signature."""

FAMILIES = ("rsa", "ecdsa", "sm2")
"""Hierarchies one can ask for; every certificate in one hierarchy uses the same family."""

BASE_URL = "https://seal.example.gov.cn"
"""Base of the CRL / CA-issuer / OCSP URLs written into the test certificates."""

BACKDATE = timedelta(days=1)
"""How far in the past the hierarchy's validity begins (so it is valid right now)."""

_KEY_ALGORITHM = {"rsa": KeyAlgorithm.RSA2048, "ecdsa": KeyAlgorithm.P256, "sm2": KeyAlgorithm.SM2}
_LABEL = {"rsa": "RSA", "ecdsa": "ECC", "sm2": "SM2"}

_CITY = {"country_name": "CN", "state_or_province_name": "广东省", "locality_name": "深圳市"}
_CA_ORG = "深圳市政务服务数据管理局"
_SEAL_ORG = "深圳市市场监督管理局"
_SEAL_CREDIT_CODE = "11440300MB2C92191J"


@dataclass(frozen=True, repr=False)
class Hierarchy:
    """Certificates and keys of one test PKI; all certificates are valid at ``valid_at``."""

    family: str
    root: x509.Certificate
    root_key: SigningKey
    issuing: x509.Certificate
    issuing_key: SigningKey
    seal: x509.Certificate
    seal_key: SigningKey
    tsa: x509.Certificate
    tsa_key: SigningKey
    ocsp: x509.Certificate
    ocsp_key: SigningKey
    urls: IssuerUrls
    """URLs the issuing CA writes into its leaves (the root's are in ``root_urls``)."""
    root_urls: IssuerUrls
    not_before: datetime
    valid_at: datetime

    def __repr__(self) -> str:
        return f"Hierarchy({self.family})"

    @property
    def key_algorithm(self) -> KeyAlgorithm:
        return _KEY_ALGORITHM[self.family]

    @property
    def leaves(self) -> dict[str, tuple[x509.Certificate, SigningKey]]:
        """``{"seal": (cert, key), "tsa": ..., "ocsp": ...}`` for parametrised tests."""
        return {
            "seal": (self.seal, self.seal_key),
            "tsa": (self.tsa, self.tsa_key),
            "ocsp": (self.ocsp, self.ocsp_key),
        }


def _urls(family: str, ca: str) -> IssuerUrls:
    base = f"{BASE_URL}/pki/{family}"
    return IssuerUrls(crl=f"{base}/{ca}.crl", ca_issuers=f"{base}/{ca}.cer", ocsp=f"{base}/ocsp")


@functools.cache
def build_hierarchy(family: str = "rsa") -> Hierarchy:
    """The cached test hierarchy of ``family`` (``rsa``, ``ecdsa`` or ``sm2``).

    Root (20 years, pathLen 1) → issuing CA (10 years, pathLen 0) → seal (2 years),
    TSA (5 years) and OCSP signer (1 year), all starting :data:`BACKDATE` ago.
    """
    if family not in _KEY_ALGORITHM:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    label = _LABEL[family]
    start = datetime.now(UTC).replace(microsecond=0) - BACKDATE
    root_urls = _urls(family, "root")
    urls = _urls(family, "issuing")

    root_key = algorithms.generate(_KEY_ALGORITHM[family])
    root = issue_certificate(
        profile=Profile.ROOT_CA,
        subject=build_name(
            **_CITY, organization_name=_CA_ORG, common_name=f"深圳市电子印章根CA（{label}）"
        ),
        subject_public_key=root_key.public_key_info,
        issuer_key=root_key,
        issuer_certificate=None,
        not_before=start,
        not_after=start + timedelta(days=20 * 365),
    )
    issuing_key = algorithms.generate(_KEY_ALGORITHM[family])
    issuing = issue_certificate(
        profile=Profile.ISSUING_CA,
        subject=build_name(
            **_CITY,
            organization_name=_CA_ORG,
            organizational_unit_name="电子印章管理中心",
            common_name=f"深圳市电子印章签发CA（{label}）",
        ),
        subject_public_key=issuing_key.public_key_info,
        issuer_key=root_key,
        issuer_certificate=root,
        not_before=start,
        not_after=start + timedelta(days=10 * 365),
        urls=root_urls,
    )
    ca = _IssuingCa(issuing, issuing_key, urls)

    def leaf(profile: Profile, days: int, **subject: str) -> tuple[x509.Certificate, SigningKey]:
        key = algorithms.generate(_KEY_ALGORITHM[family])
        validity = (start, start + timedelta(days=days))
        return ca.issue(
            profile, build_name(**_CITY, **subject), key.public_key_info, *validity
        ), key

    seal, seal_key = leaf(
        Profile.SEAL,
        2 * 365,
        organization_name=_SEAL_ORG,
        organizational_unit_name="行政审批处",
        common_name="深圳市市场监督管理局行政审批专用章",
        serial_number=_SEAL_CREDIT_CODE,
    )
    tsa, tsa_key = leaf(
        Profile.TSA,
        5 * 365,
        organization_name=_CA_ORG,
        common_name=f"深圳市可信时间戳服务（{label}）",
    )
    ocsp, ocsp_key = leaf(
        Profile.OCSP,
        365,
        organization_name=_CA_ORG,
        common_name=f"深圳市电子印章OCSP服务（{label}）",
    )
    return Hierarchy(
        family=family,
        root=root,
        root_key=root_key,
        issuing=issuing,
        issuing_key=issuing_key,
        seal=seal,
        seal_key=seal_key,
        tsa=tsa,
        tsa_key=tsa_key,
        ocsp=ocsp,
        ocsp_key=ocsp_key,
        urls=urls,
        root_urls=root_urls,
        not_before=start,
        valid_at=start + BACKDATE + timedelta(hours=1),
    )


@dataclass(frozen=True)
class _IssuingCa:
    certificate: x509.Certificate
    key: SigningKey
    urls: IssuerUrls

    def issue(
        self,
        profile: Profile,
        subject: x509.Name,
        public_key: keys.PublicKeyInfo,
        not_before: datetime,
        not_after: datetime,
    ) -> x509.Certificate:
        return issue_certificate(
            profile=profile,
            subject=subject,
            subject_public_key=public_key,
            issuer_key=self.key,
            issuer_certificate=self.certificate,
            not_before=not_before,
            not_after=not_after,
            urls=self.urls,
        )


def empty_crls(
    hierarchy: Hierarchy,
    issuing: x509.Certificate | None = None,
    root: x509.Certificate | None = None,
) -> tuple[crl.CertificateList, crl.CertificateList]:
    """CRL number 1 of the issuing CA and of the root, nothing revoked, valid for a week.

    ``issuing`` / ``root`` stand in for the hierarchy's own certificates (the benchmark
    passes copies re-loaded from DER).
    """
    week = (hierarchy.not_before, hierarchy.not_before + timedelta(days=7))
    return tuple(
        build_crl(
            issuer_certificate=ca,
            issuer_key=key,
            revoked=[],
            crl_number=1,
            this_update=week[0],
            next_update=week[1],
        )
        for ca, key in (
            (issuing or hierarchy.issuing, hierarchy.issuing_key),
            (root or hierarchy.root, hierarchy.root_key),
        )
    )


def issue_leaf(
    hierarchy: Hierarchy,
    profile: Profile = Profile.SEAL,
    *,
    common_name: str = "深圳市市场监督管理局合同专用章",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key: SigningKey | None = None,
) -> tuple[x509.Certificate, SigningKey]:
    """A fresh certificate from the hierarchy's issuing CA (new key unless ``key`` is given).

    Handy for negative tests: an expired or not-yet-valid leaf, a second seal to revoke.
    Validity defaults to the hierarchy's start plus one year.
    """
    key = key or algorithms.generate(hierarchy.key_algorithm)
    start = not_before or hierarchy.not_before
    ca = _IssuingCa(hierarchy.issuing, hierarchy.issuing_key, hierarchy.urls)
    subject = build_name(**_CITY, organization_name=_SEAL_ORG, common_name=common_name)
    end = not_after or start + timedelta(days=365)
    return ca.issue(profile, subject, key.public_key_info, start, end), key


def write_pem(directory: Path, name: str, *certificates: x509.Certificate) -> Path:
    """Write ``certificates`` (concatenated PEM) to ``directory/name`` for command-line tools."""
    path = Path(directory) / name
    path.write_bytes(b"".join(certificate_pem(c) for c in certificates))
    return path


def write_public_key(directory: Path, name: str, public_key_info: keys.PublicKeyInfo) -> Path:
    """Write a SubjectPublicKeyInfo as PEM (``openssl pkeyutl -pubin -inkey``)."""
    path = Path(directory) / name
    path.write_bytes(pem.armor("PUBLIC KEY", public_key_info.dump()))
    return path


def openssl(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``openssl`` command line; never raises on a non-zero exit (tests assert on it)."""
    return subprocess.run(
        ["openssl", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=60,
        check=False,
    )


def gmssl_verify(public_key_info: keys.PublicKeyInfo, message: bytes, der_signature: bytes) -> bool:
    """Check an SM2-with-SM3 signature (default signer ID) with the pure-Python ``gmssl``.

    gmssl wants the public key as hex X||Y and the signature as hex r||s (32 bytes each);
    its constructor strips a leading "04" with ``str.lstrip`` (which would also eat leading
    0/4 digits of X), so the key is set on the instance directly.
    """
    point = public_key_info["public_key"].native  # uncompressed point 04 || X || Y
    if len(point) != 65 or point[0] != 4:
        raise ValueError("expected an uncompressed SM2 public key")
    signature = algos.DSASignature.load(der_signature)
    r, s = signature["r"].native, signature["s"].native
    checker = gmssl_sm2.CryptSM2(private_key="", public_key="")
    checker.public_key = point[1:].hex()
    return bool(checker.verify_with_sm3(f"{r:064x}{s:064x}", message))


def flip_last_byte_of(der: bytes, needle: bytes) -> bytes:
    """``der`` with the last byte of the first ``needle`` occurrence inverted.

    Aim at a field whose bytes may take any value (a serial number, a CRL number) so the
    result still parses and only the signature check can notice the tampering.
    """
    at = der.index(needle) + len(needle) - 1
    return der[:at] + bytes([der[at] ^ 0xFF]) + der[at + 1 :]


def resign(
    certificate: x509.Certificate, key: SigningKey, **tbs_changes: object
) -> x509.Certificate:
    """A copy of ``certificate`` with ``tbs_changes`` applied, signed by ``key``.

    Bypasses every check of ``issue_certificate`` on purpose: this is how negative tests
    get a certificate signed by the wrong key or carrying an odd extension.
    """
    tbs = x509.TbsCertificate.load(certificate["tbs_certificate"].dump())
    for field, value in tbs_changes.items():
        tbs[field] = value
    scheme = algorithms.scheme_for(certificate["signature_algorithm"])
    return x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": certificate["signature_algorithm"],
            "signature_value": key.sign(tbs.dump(), scheme),
        }
    )
