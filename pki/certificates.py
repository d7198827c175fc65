"""X.509 certificate profiles (RFC 5280; GM/T 0015 for SM2) and the one function that issues them.

Every certificate — RSA or SM2, root or leaf — is built with asn1crypto and signed through a
:class:`~pki.algorithms.SigningKey`, so there is a single code path: ``cryptography``'s
builder cannot encode SM2 signature algorithms, and two builders would drift apart.

The profiles are declarative (:data:`PROFILES`): what a seal certificate *is* lives in one
table, not in branches.  Subject names are UTF8String (Chinese organisation, department and
seal names), the country PrintableString, as GM/T 0015 and RFC 5280 ask.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from asn1crypto import core, keys, pem, x509

from pki.algorithms import SignatureScheme, SigningKey
from pki.errors import CertificateError

__all__ = [
    "POLICY_PERSON_EVENT",
    "POLICY_PERSON_OFFICIAL",
    "POLICY_SEAL",
    "POLICY_SEAL_MAKER",
    "POLICY_TSA",
    "PROFILES",
    "IssuerUrls",
    "Profile",
    "ProfileSpec",
    "build_name",
    "certificate_pem",
    "common_name",
    "issue_certificate",
    "key_identifier",
    "load_certificate",
    "load_pem_or_der",
    "name_text",
    "random_serial",
    "x509_time",
]

# UUID-derived OIDs (ITU-T X.667 arc 2.25) need no registration and cannot collide; an
# operator with an enterprise arc replaces them in one place.
POLICY_SEAL = "2.25.215374104133426052516296407436355014913"
"""Certificate policy: electronic seal of a government body (sealsvc seal policy v1)."""
POLICY_TSA = "2.25.215374104133426052516296407436355014914"
"""Certificate policy and TSA policy: sealsvc time-stamping policy v1."""
POLICY_SEAL_MAKER = "2.25.215374104133426052516296407436355014915"
"""Certificate policy: seal maker (制章者) that signs GB/T 38540 ``SESeal`` objects.

Neither GB/T 38540-2020 nor GM/T 0031 assigns an extended key usage or policy to the seal
maker's certificate (they only require it to be an SM2 certificate), so the policy in our
own arc is what tells a maker certificate from a seal certificate."""
POLICY_PERSON_EVENT = "2.25.215374104133426052516296407436355014916"
"""Certificate policy: a natural person's event certificate (事件型证书), one signing event,
valid for minutes, its key generated for the event and destroyed after it."""
POLICY_PERSON_OFFICIAL = "2.25.215374104133426052516296407436355014917"
"""Certificate policy: a long-lived certificate of a natural person (an official), its key
in the key store, usable only with a fresh identity token of that person.

Two policies, not one with a flag elsewhere, so that a verifier holding only the document
tells an event certificate from an official's certificate (issue #18 §4)."""


class Profile(StrEnum):
    """Kinds of certificate the CA issues."""

    ROOT_CA = "root_ca"
    ISSUING_CA = "issuing_ca"
    SEAL = "seal"
    TSA = "tsa"
    OCSP = "ocsp"
    SEAL_MAKER = "seal_maker"
    PERSON_CA = "person_ca"
    """The personal-signing issuing CA: beside the seal issuing CA, under the same root."""
    PERSON = "person"
    """A long-lived certificate of a natural person (an official)."""
    PERSON_EVENT = "person_event"
    """An event certificate (事件型证书) of a natural person: one signing event."""


@dataclass(frozen=True)
class ProfileSpec:
    """The extensions that make a certificate fit one purpose."""

    is_ca: bool
    path_length: int | None
    key_usage: frozenset[str]
    extended_key_usage: tuple[str, ...] = ()
    policy: str | None = None
    ocsp_no_check: bool = False


PROFILES: dict[Profile, ProfileSpec] = {
    Profile.ROOT_CA: ProfileSpec(True, 1, frozenset({"key_cert_sign", "crl_sign"})),
    Profile.ISSUING_CA: ProfileSpec(True, 0, frozenset({"key_cert_sign", "crl_sign"})),
    Profile.SEAL: ProfileSpec(
        False, None, frozenset({"digital_signature", "non_repudiation"}), policy=POLICY_SEAL
    ),
    Profile.SEAL_MAKER: ProfileSpec(
        False,
        None,
        frozenset({"digital_signature", "non_repudiation"}),
        policy=POLICY_SEAL_MAKER,
    ),
    Profile.PERSON_CA: ProfileSpec(True, 0, frozenset({"key_cert_sign", "crl_sign"})),
    # Natural persons (GM/T 0015 §7, RFC 5280): nonRepudiation + digitalSignature, the way a
    # handwritten signature commits its signer.  No extended key usage: none fits a document
    # signature that Adobe, pdfsig and the SES verifiers all accept (pdfsig's NSS then
    # demands emailProtection), and the seal certificates have none for the same reason.
    Profile.PERSON: ProfileSpec(
        False,
        None,
        frozenset({"digital_signature", "non_repudiation"}),
        policy=POLICY_PERSON_OFFICIAL,
    ),
    Profile.PERSON_EVENT: ProfileSpec(
        False,
        None,
        frozenset({"digital_signature", "non_repudiation"}),
        policy=POLICY_PERSON_EVENT,
    ),
    Profile.TSA: ProfileSpec(
        False,
        None,
        frozenset({"digital_signature", "non_repudiation"}),
        extended_key_usage=("time_stamping",),
        policy=POLICY_TSA,
    ),
    Profile.OCSP: ProfileSpec(
        False,
        None,
        frozenset({"digital_signature"}),
        extended_key_usage=("ocsp_signing",),
        ocsp_no_check=True,
    ),
}


@dataclass(frozen=True)
class IssuerUrls:
    """Where relying parties fetch the issuer's CRL, certificate and OCSP answers.

    They point at the service's own base URL; the API serves them (``/pki/...``).
    """

    crl: str
    ca_issuers: str
    ocsp: str | None = None


_NAME_ORDER = (
    "country_name",
    "state_or_province_name",
    "locality_name",
    "organization_name",
    "organization_identifier",
    "organizational_unit_name",
    "common_name",
    "serial_number",
)


def build_name(**attributes: str) -> x509.Name:
    """An X.500 name in the conventional C, ST, L, O, OU, CN order, UTF8String values."""
    unknown = set(attributes) - set(_NAME_ORDER)
    if unknown:
        raise CertificateError(f"unsupported name attribute(s): {', '.join(sorted(unknown))}")
    ordered = {k: attributes[k] for k in _NAME_ORDER if attributes.get(k)}
    if "common_name" not in ordered:
        raise CertificateError("a certificate subject needs a common name")
    return x509.Name.build(ordered)


_SHORT_NAMES = {
    "country_name": "C",
    "state_or_province_name": "ST",
    "locality_name": "L",
    "organization_name": "O",
    "organization_identifier": "organizationIdentifier",
    "organizational_unit_name": "OU",
    "common_name": "CN",
    "serial_number": "serialNumber",
}


def name_text(name: x509.Name) -> str:
    """RFC 4514-style one-line form (most specific first), e.g. ``CN=…,OU=…,O=…,C=CN``."""
    parts = []
    for rdn in reversed(list(name.chosen)):
        for attribute in rdn:
            kind = attribute["type"]
            label = _SHORT_NAMES.get(kind.native, kind.dotted)
            parts.append(f"{label}={attribute['value'].native}")
    return ",".join(parts)


def common_name(name: x509.Name) -> str:
    """The CN of a name, or its one-line form when it has none."""
    return name.native.get("common_name") or name_text(name)


def random_serial() -> int:
    """A positive serial of exactly 16 DER octets (RFC 5280 allows up to 20), 125 of its
    bits random: bit 126 is always set, since without it one serial in 128 came out a
    byte shorter, a fixed length being what CA/B and our own profile tests expect."""
    return (1 << 126) | secrets.randbits(126) | 1


def key_identifier(public_key_info: keys.PublicKeyInfo) -> bytes:
    """RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING."""
    return hashlib.sha1(public_key_info["public_key"].contents[1:], usedforsecurity=False).digest()


def x509_time(moment: datetime) -> x509.Time:
    """UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)."""
    moment = moment.astimezone(UTC).replace(microsecond=0)
    if moment.year < 2050:
        return x509.Time({"utc_time": moment})
    return x509.Time({"general_time": moment})


def _uri(url: str) -> x509.GeneralName:
    return x509.GeneralName(name="uniform_resource_identifier", value=url)


def _extension(name: str, value: object, critical: bool = False) -> dict[str, object]:
    return {"extn_id": name, "critical": critical, "extn_value": value}


def _extensions(
    spec: ProfileSpec,
    subject_key: keys.PublicKeyInfo,
    authority_key_id: bytes,
    urls: IssuerUrls | None,
) -> list[dict[str, object]]:
    exts = [
        _extension(
            "basic_constraints",
            {"ca": spec.is_ca, "path_len_constraint": spec.path_length},
            critical=True,
        ),
        _extension("key_usage", set(spec.key_usage), critical=True),
        _extension("key_identifier", key_identifier(subject_key)),
        _extension("authority_key_identifier", {"key_identifier": authority_key_id}),
    ]
    if spec.extended_key_usage:
        # RFC 3161 §2.3 requires the TSA's timeStamping EKU to be critical; doing the same
        # for OCSP signing keeps a delegated responder key from being used for anything else.
        exts.append(_extension("extended_key_usage", list(spec.extended_key_usage), True))
    if spec.policy:
        exts.append(_extension("certificate_policies", [{"policy_identifier": spec.policy}]))
    if spec.ocsp_no_check:
        exts.append(_extension("ocsp_no_check", None))
    if urls is not None:
        crl_location = {"full_name": [_uri(urls.crl)]}
        exts.append(_extension("crl_distribution_points", [{"distribution_point": crl_location}]))
        access = [
            {
                "access_method": "ca_issuers",
                "access_location": _uri(urls.ca_issuers),
            }
        ]
        if urls.ocsp and not spec.is_ca and not spec.ocsp_no_check:
            access.insert(
                0,
                {
                    "access_method": "ocsp",
                    "access_location": _uri(urls.ocsp),
                },
            )
        exts.append(_extension("authority_information_access", access))
    return exts


def issue_certificate(
    *,
    profile: Profile,
    subject: x509.Name,
    subject_public_key: keys.PublicKeyInfo,
    issuer_key: SigningKey,
    issuer_certificate: x509.Certificate | None,
    not_before: datetime,
    not_after: datetime,
    urls: IssuerUrls | None = None,
    serial: int | None = None,
    scheme: SignatureScheme | None = None,
) -> x509.Certificate:
    """Build and sign one certificate of ``profile``.

    ``issuer_certificate=None`` makes a self-signed root (``issuer_key`` must then hold
    the subject's key).  The validity is clipped to the issuer's, so no certificate ever
    outlives the CA that vouches for it.  The signature is checked against the issuer's
    public key before the certificate is returned: a key store handing out the wrong key
    fails here, not at a relying party.
    """
    spec = PROFILES[Profile(profile)]
    if not_after <= not_before:
        raise CertificateError("certificate validity ends before it begins")
    if issuer_certificate is None:
        if issuer_key.public_key_info.dump() != subject_public_key.dump():
            raise CertificateError("a self-signed certificate must be signed by its own key")
        issuer_name = subject
        authority_key_id = key_identifier(subject_public_key)
    else:
        issuer_name = issuer_certificate.subject
        if issuer_certificate.public_key.dump() != issuer_key.public_key_info.dump():
            raise CertificateError("the issuer key does not match the issuer certificate")
        authority_key_id = key_identifier(issuer_certificate.public_key)
        issuer_validity = issuer_certificate["tbs_certificate"]["validity"]
        not_after = min(not_after, issuer_validity["not_after"].native)
        not_before = max(not_before, issuer_validity["not_before"].native)
    scheme = scheme or issuer_key.key_algorithm.default_scheme
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial if serial is not None else random_serial(),
            "signature": scheme.algorithm_identifier(),
            "issuer": issuer_name,
            "validity": {"not_before": x509_time(not_before), "not_after": x509_time(not_after)},
            "subject": subject,
            "subject_public_key_info": subject_public_key,
            "extensions": _extensions(spec, subject_public_key, authority_key_id, urls),
        }
    )
    signature = issuer_key.sign(tbs.dump(), scheme)
    return x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": scheme.algorithm_identifier(),
            "signature_value": signature,
        }
    )


def certificate_pem(certificate: x509.Certificate) -> bytes:
    return pem.armor("CERTIFICATE", certificate.dump())


def load_pem_or_der(data: bytes, spec: type[core.Asn1Value], what: str) -> core.Asn1Value:
    """Parse a DER or PEM structure of type ``spec`` fully, with a clear error naming ``what``.

    asn1crypto parses lazily; touching ``.native`` forces the whole structure now, so a
    malformed input fails here with one line instead of deep inside a later caller.
    """
    try:
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        parsed = spec.load(data)
        parsed.native  # noqa: B018
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"not a valid {what}: {exc}") from None
    return parsed


def load_certificate(data: bytes) -> x509.Certificate:
    """Parse a DER or PEM certificate, with a clear error for anything else."""
    return load_pem_or_der(data, x509.Certificate, "X.509 certificate")
