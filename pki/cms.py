"""CMS SignedData (RFC 5652) for RSA, ECDSA and SM2 signers, built and checked with asn1crypto.

One builder serves every signed structure the service produces — RFC 3161 time-stamp
tokens, and later the SM2 signatures embedded in PDFs (GB/T 35275) — so the delicate parts
are written once: the signed attributes are DER-encoded as a ``SET OF`` (sorted, universal
tag ``0x31``) and *that* encoding is signed (RFC 5652 §5.4), although the SignerInfo
carries it under the implicit tag ``[0]``.  Getting this wrong is the classic CMS bug that
makes OpenSSL (which re-encodes the attributes as a SET) reject a signature.

Signing goes through a :class:`~pki.algorithms.SigningKey`, so the private key never leaves
its store.  For SM2 the SignerInfo names ``digestAlgorithm`` sm3 (1.2.156.10197.1.401) and
``signatureAlgorithm`` SM2-with-SM3 (1.2.156.10197.1.501), and the signature is computed
with the Z value over the default signer ID ``1234567812345678``.  GB/T 35275 §6 lists
"SM2-1" (1.2.156.10197.1.301.1) as the signature algorithm; we write 1.2.156.10197.1.501
because it names both the curve algorithm and the hash (as ``sha256WithRSAEncryption``
does), it is what GmSSL, Tongsuo and OpenSSL 3 emit and accept for SM2 CMS, and it is
the identifier our certificates carry.  Readers of third-party SM2 CMS should expect both.

:func:`verify_signed_data` checks the *cryptography* only (content digest, signature,
ESS signing-certificate binding); whether the signer's certificate is trustworthy at the
signing time is the caller's question (chain, revocation, time).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import cms, core, tsp, x509

from pki import algorithms
from pki.algorithms import SignatureScheme, SigningKey
from pki.asn1.cached import parsed
from pki.errors import SignatureInvalid, UnsupportedAlgorithm

__all__ = [
    "Gbt35275ContentInfo",
    "SignerIdentity",
    "build_gbt35275_signed_data",
    "build_signed_data",
    "signing_certificate_v2",
    "verify_signed_data",
    "with_signature_time_stamp",
]

_ESS_HASHES = frozenset({"sha256", "sha384", "sha512", "sm3"})
"""Digests allowed in ESSCertIDv2 (SHA-1 only appears in the legacy v1 attribute)."""


@dataclass(frozen=True, repr=False)
class SignerIdentity:
    """What :func:`verify_signed_data` established about a SignedData's one signer."""

    certificate: x509.Certificate
    """The signer's certificate, found in the SignedData (or among the extra certificates)
    by the SignerInfo's ``sid``; its signature over the content has been verified."""
    content_type: str
    """The eContentType (asn1crypto name, or the dotted OID for types it does not know)."""
    content: bytes
    """The signed content: the encapsulated eContent, or the detached content passed in."""
    digest_algorithm: str
    """asn1crypto name of the digest over the content (``sha256``, ``sm3`` …)."""
    scheme: SignatureScheme
    """The signature scheme the SignerInfo was verified with."""
    signing_time: datetime | None
    """The signer's claimed signing-time attribute (not a trusted time), if present."""
    signed_attributes: cms.CMSAttributes | None
    """All signed attributes as received, for callers that look for their own ones."""

    def __repr__(self) -> str:
        subject = self.certificate.subject.human_friendly
        return f"SignerIdentity({subject!r}, {self.scheme.value})"


def signing_certificate_v2(
    certificate: x509.Certificate, hash_algorithm: str = "sha256"
) -> cms.CMSAttribute:
    """The ESS signing-certificate-v2 attribute (RFC 5035) binding ``certificate``.

    It names the certificate by hash *and* issuer/serial, so a signature cannot be re-bound
    to another certificate carrying the same public key (RFC 3161 §2.4.1 requires it, or
    its SHA-1 predecessor, on every time-stamp token).
    """
    if hash_algorithm not in _ESS_HASHES:
        raise UnsupportedAlgorithm(f"unsupported ESSCertIDv2 hash {hash_algorithm}")
    cert_id = parsed(
        tsp.ESSCertIDv2(
            {
                "hash_algorithm": {"algorithm": hash_algorithm},
                "cert_hash": algorithms.digest(hash_algorithm, certificate.dump()),
                "issuer_serial": {
                    "issuer": [x509.GeneralName(name="directory_name", value=certificate.issuer)],
                    "serial_number": certificate.serial_number,
                },
            }
        )
    )
    return cms.CMSAttribute({"type": "signing_certificate_v2", "values": [{"certs": [cert_id]}]})


def build_signed_data(
    content_type: str,
    content: bytes | None,
    signer_key: SigningKey,
    signer_certificate: x509.Certificate,
    certificates: Iterable[x509.Certificate] = (),
    signed_attributes: Iterable[cms.CMSAttribute] = (),
    digest_algorithm: str | None = None,
    signing_time: datetime | None = None,
    include_signing_certificate_v2: bool = True,
    *,
    content_digest: bytes | None = None,
    scheme: SignatureScheme | None = None,
) -> cms.ContentInfo:
    """A ContentInfo holding a SignedData with one SignerInfo by ``signer_key``.

    ``content_type`` is the eContentType (asn1crypto name such as ``tst_info`` or
    ``data``, or a dotted OID).  With ``content`` the content is encapsulated; with
    ``content=None`` the signature is *detached* and ``content_digest`` — the digest of the
    external content with ``digest_algorithm`` — must be given (a PDF signer hashes the
    byte ranges itself and never hands the whole file over).

    Signed attributes are always present: content-type, message-digest, signing-time (if
    ``signing_time``), signing-certificate-v2 (SHA-256 for RSA/ECDSA signers, SM3 for SM2
    ones — GB/T 35275 keeps SM2 signatures free of foreign hashes), then
    ``signed_attributes``.  ``digest_algorithm`` defaults to the scheme's own hash
    (``sha256`` or ``sm3``).  ``certificates`` are the certificates to embed — normally
    the signer's and its chain, possibly none (an RFC 3161 token without certReq); the
    SignerInfo identifies the signer by issuer and serial number (version 1).

    The result is parsed from its own DER, so dumping it again costs nothing and it
    shares no mutable parts with other results.
    """
    scheme = scheme or signer_key.key_algorithm.default_scheme
    digest_algorithm = digest_algorithm or scheme.digest_algorithm
    if signer_certificate.public_key.dump() != signer_key.public_key_info.dump():
        raise SignatureInvalid("the signing key does not match the signer certificate")
    if content is None:
        if content_digest is None:
            raise ValueError("a detached signature needs content_digest")
    elif content_digest is not None:
        raise ValueError("give either content or content_digest, not both")
    else:
        content_digest = algorithms.digest(digest_algorithm, content)

    parts = _signer_parts(signer_certificate.dump(), scheme, digest_algorithm)
    # Each attribute is frozen before the SET OF sorts (and so dumps) them all.
    attributes = [
        _content_type_attribute(content_type),
        parsed(cms.CMSAttribute({"type": _MESSAGE_DIGEST, "values": [content_digest]})),
    ]
    if signing_time is not None:
        attributes.append(
            parsed(cms.CMSAttribute({"type": _SIGNING_TIME, "values": [_cms_time(signing_time)]}))
        )
    if include_signing_certificate_v2:
        attributes.append(parts.signing_certificate_v2)
    attributes.extend(signed_attributes)
    # RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF (tag 0x31),
    # which is what dumping the untagged CMSAttributes gives (asn1crypto sorts SET OF).
    attrs_der = cms.CMSAttributes(attributes).dump()
    signature = signer_key.sign(attrs_der, scheme)

    # Built bottom-up, each level frozen (re-read from its DER) before it goes into its
    # parent, and loaded under the tag its field wears: asn1crypto re-encodes a freshly
    # built subtree every time an ancestor is built or dumped, and deep-copies a value
    # into a re-tagged clone when its tagging differs from the field's.
    signer_info = parsed(
        cms.SignerInfo(
            {
                "version": _V1,
                "sid": parts.sid,
                "digest_algorithm": parts.digest_algorithm,
                "signed_attrs": cms.CMSAttributes.load(attrs_der).retag({"implicit": 0}),
                "signature_algorithm": parts.signature_algorithm,
                "signature": signature,
            }
        )
    )
    signed_data = parsed(
        cms.SignedData(
            {
                # RFC 5652 §5.1: version 3 whenever eContentType is not id-data.
                "version": _V1 if content_type == "data" else _V3,
                "digest_algorithms": parts.digest_algorithms,
                # A dict: the field's class depends on the version (PKCS #7 compatibility).
                "encap_content_info": {
                    "content_type": _content_type(content_type),
                    "content": None
                    if content is None
                    else core.ParsableOctetString(content, explicit=0),
                },
                "certificates": _certificate_set(tuple(c.dump() for c in certificates)),
                "signer_infos": parsed(cms.SignerInfos([signer_info])),
            },
            explicit=0,
        ),
        explicit=0,
    )
    return parsed(cms.ContentInfo({"content_type": _SIGNED_DATA, "content": signed_data}))


class Gbt35275ContentInfo(core.Sequence):
    """A ContentInfo under GB/T 35275's ``signedData`` OID (1.2.156.10197.6.1.4.2.2).

    GB/T 35275 (SM2 in CMS) gives SignedData and its content type national OIDs; the
    structure inside is RFC 5652's.  GM/T 0099 ``Type="Sign"`` OFD signatures carry this
    form, and ofdrw rejects RFC 5652's ``id-signedData`` there.  asn1crypto's
    :class:`~asn1crypto.cms.ContentInfo` picks the content's class by the OID, so this
    declares the one pairing it lacks; :func:`verify_signed_data` reads both forms.
    """

    _fields = [  # noqa: RUF012 - asn1crypto declares fields as a class-level list
        ("content_type", cms.ContentType),
        ("content", cms.SignedData, {"explicit": 0}),
    ]


def build_gbt35275_signed_data(
    signer_key: SigningKey,
    signer_certificate: x509.Certificate,
    *,
    content_digest: bytes,
    certificates: Iterable[x509.Certificate] = (),
    signing_time: datetime | None = None,
    signed_attributes: Iterable[cms.CMSAttribute] = (),
) -> Gbt35275ContentInfo:
    """A detached GB/T 35275 SignedData over content whose SM3 digest is ``content_digest``
    (``signed_attributes`` after the standard ones, signed with them).

    :func:`build_signed_data` with eContentType GB/T 35275 ``data``
    (1.2.156.10197.6.1.4.2.1), wrapped in :class:`Gbt35275ContentInfo`: the signed
    attributes and the signature are the same code's.  SM2 signers only (the standard's
    scope); another key is :class:`~pki.errors.UnsupportedAlgorithm`.
    """
    scheme = signer_key.key_algorithm.default_scheme
    if scheme is not SignatureScheme.SM2_SM3:
        raise UnsupportedAlgorithm(f"GB/T 35275 SignedData needs an SM2 key, not {scheme.value}")
    content_info = build_signed_data(
        "gbt35275_data",
        None,
        signer_key,
        signer_certificate,
        certificates=certificates,
        content_digest=content_digest,
        digest_algorithm="sm3",
        signing_time=signing_time,
        signed_attributes=signed_attributes,
    )
    return Gbt35275ContentInfo(
        {"content_type": "gbt35275_signed_data", "content": content_info["content"].untag()}
    )


def with_signature_time_stamp(
    content_info: Gbt35275ContentInfo, token: cms.ContentInfo
) -> Gbt35275ContentInfo:
    """``content_info`` whose SignerInfo carries ``token`` as its unsigned
    id-aa-signatureTimeStampToken attribute (RFC 3161 appendix A, CAdES-T).

    The token must stamp this SignerInfo's signature value: it proves the signature
    existed at its genTime, which keeps a signature made under a short-lived certificate
    valid after that certificate expires.  Unsigned attributes are outside the signature,
    so adding one changes nothing the signer signed.
    """
    signed_data = content_info["content"].copy()
    signer_info = signed_data["signer_infos"][0].copy()
    signer_info["unsigned_attrs"] = cms.CMSAttributes(
        [{"type": "signature_time_stamp_token", "values": [token]}]
    )
    signed_data["signer_infos"] = cms.SignerInfos([signer_info])
    updated = Gbt35275ContentInfo(
        {"content_type": content_info["content_type"].dotted, "content": signed_data}
    )
    return Gbt35275ContentInfo.load(updated.dump())


@dataclass(frozen=True)
class _SignerParts:
    """The parts of a SignerInfo/SignedData that depend only on the signer and algorithms.

    asn1crypto re-encodes a freshly built structure's whole subtree on every ``dump()``
    of it or of a parent, which made these parts most of the cost of a time-stamp token;
    parsed from DER (and, for the signing-certificate-v2 hash, computed) once per signer,
    they serialise from cached bytes.  Never mutate them: they are shared.
    """

    sid: cms.SignerIdentifier
    digest_algorithm: cms.DigestAlgorithm
    digest_algorithms: cms.DigestAlgorithms
    signature_algorithm: cms.SignedDigestAlgorithm
    signing_certificate_v2: cms.CMSAttribute


@functools.lru_cache(maxsize=64)
def _signer_parts(
    certificate_der: bytes, scheme: SignatureScheme, digest_algorithm: str
) -> _SignerParts:
    certificate = x509.Certificate.load(certificate_der)
    sid = cms.SignerIdentifier(
        name="issuer_and_serial_number",
        value={"issuer": certificate.issuer, "serial_number": certificate.serial_number},
    )
    algorithm = cms.DigestAlgorithm({"algorithm": digest_algorithm})
    ess_hash = "sm3" if scheme is SignatureScheme.SM2_SM3 else "sha256"
    return _SignerParts(
        sid=parsed(sid),
        digest_algorithm=parsed(algorithm),
        digest_algorithms=parsed(cms.DigestAlgorithms([algorithm])),
        signature_algorithm=parsed(scheme.algorithm_identifier()),
        signing_certificate_v2=parsed(signing_certificate_v2(certificate, ess_hash)),
    )


@functools.lru_cache(maxsize=64)
def _certificate_set(certificate_ders: tuple[bytes, ...]) -> cms.CertificateSet | None:
    """The SignedData ``certificates`` [0] field: these certificates, duplicates dropped."""
    unique = list(dict.fromkeys(certificate_ders))
    if not unique:
        return None
    built = cms.CertificateSet(
        [
            cms.CertificateChoices(name="certificate", value=x509.Certificate.load(der))
            for der in unique
        ],
        implicit=0,
    )
    return parsed(built, implicit=0)


@functools.lru_cache(maxsize=16)
def _content_type_attribute(content_type: str) -> cms.CMSAttribute:
    return parsed(cms.CMSAttribute({"type": "content_type", "values": [content_type]}))


@functools.lru_cache(maxsize=16)
def _content_type(content_type: str) -> cms.ContentType:
    return parsed(cms.ContentType(content_type))


def verify_signed_data(
    content_info: cms.ContentInfo | Gbt35275ContentInfo,
    detached_content: bytes | None = None,
    extra_certificates: Sequence[x509.Certificate] = (),
) -> SignerIdentity:
    """Check the one SignerInfo of a SignedData; raise :class:`SignatureInvalid` if it fails.

    Checked: the content digest against the message-digest attribute, the content-type
    attribute against eContentType, the ESS signing-certificate(-v2) binding when present,
    and the signature over the signed attributes (or over the content when there are none)
    with the signer certificate's public key through :mod:`pki.algorithms` — so SM2 works
    like RSA.  ``extra_certificates`` supplies a signer certificate the SignedData does not
    carry (a time-stamp token requested without certReq).  Trust in the certificate is
    *not* checked here.
    """
    try:
        signed_data, signer_info, content_type, content = _unpack(content_info, detached_content)
        certificate = _find_signer(signed_data, signer_info, extra_certificates)
        digest_algorithm = signer_info["digest_algorithm"]["algorithm"].native
        scheme = _scheme(signer_info, digest_algorithm)
        signed_attrs = signer_info["signed_attrs"]
        signature = signer_info["signature"].native
        if isinstance(signed_attrs, core.Void):
            algorithms.verify(certificate.public_key, content, signature, scheme)
            return SignerIdentity(
                certificate, content_type, content, digest_algorithm, scheme, None, None
            )
        attrs = _attributes(signed_attrs)
        if _single(attrs, "content_type").dotted != _econtent_type(signed_data):
            raise SignatureInvalid("the content-type attribute does not match eContentType")
        expected = _single(attrs, "message_digest").native
        if algorithms.digest(digest_algorithm, content) != expected:
            raise SignatureInvalid("the content does not match the signed message digest")
        _check_ess_binding(attrs, certificate)
        # RFC 5652 §5.4: verify over the SET OF encoding, i.e. the received [0] re-tagged.
        algorithms.verify(certificate.public_key, signed_attrs.untag().dump(), signature, scheme)
        signing_time = attrs.get("signing_time")
    except (ValueError, TypeError, KeyError) as exc:
        raise SignatureInvalid(f"malformed CMS SignedData: {exc}") from None
    return SignerIdentity(
        certificate,
        content_type,
        content,
        digest_algorithm,
        scheme,
        signing_time[0].native if signing_time else None,
        signed_attrs,
    )


def _econtent_type(signed_data: cms.SignedData) -> str:
    """The dotted eContentType of ``signed_data`` (what the content-type attribute must say)."""
    return signed_data["encap_content_info"]["content_type"].dotted


def _cms_time(moment: datetime) -> cms.Time:
    """UTCTime through 2049, GeneralizedTime after (RFC 5652 §11.3), whole seconds."""
    moment = moment.astimezone(UTC).replace(microsecond=0)
    if moment.year < 2050:
        return cms.Time(name="utc_time", value=moment)
    return cms.Time(name="generalized_time", value=moment)


_V1 = parsed(cms.CMSVersion("v1"))
_V3 = parsed(cms.CMSVersion("v3"))
_MESSAGE_DIGEST = parsed(cms.CMSAttributeType("message_digest"))
_SIGNING_TIME = parsed(cms.CMSAttributeType("signing_time"))
_SIGNED_DATA = parsed(cms.ContentType("signed_data"))


def _unpack(
    content_info: cms.ContentInfo | Gbt35275ContentInfo, detached_content: bytes | None
) -> tuple[cms.SignedData, cms.SignerInfo, str, bytes]:
    if content_info["content_type"].native not in ("signed_data", "gbt35275_signed_data"):
        raise SignatureInvalid("the ContentInfo does not hold a SignedData")
    signed_data = content_info["content"]
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise SignatureInvalid(f"expected one SignerInfo, found {len(signer_infos)}")
    encap = signed_data["encap_content_info"]
    embedded = encap["content"]
    if isinstance(embedded, core.Void):
        if detached_content is None:
            raise SignatureInvalid("detached signature: the signed content was not given")
        content = detached_content
    else:
        if detached_content is not None:
            raise SignatureInvalid("the SignedData encapsulates its content; none may be given")
        # The octets as received (BER chunks merged), whatever structure they encode.
        content = bytes(embedded)
    return signed_data, signer_infos[0], encap["content_type"].native, content


def _find_signer(
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    extra: Sequence[x509.Certificate],
) -> x509.Certificate:
    candidates = [
        choice.chosen
        for choice in signed_data["certificates"] or []
        if choice.name == "certificate"
    ]
    candidates.extend(extra)
    sid = signer_info["sid"]
    for cert in candidates:
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if (
                ias["serial_number"].native == cert.serial_number
                and ias["issuer"].dump() == cert.issuer.dump()
            ):
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    raise SignatureInvalid("the signer's certificate is not in the SignedData")


def _scheme(signer_info: cms.SignerInfo, digest_algorithm: str) -> SignatureScheme:
    algorithm = signer_info["signature_algorithm"]
    # Many CMS producers write plain rsaEncryption and let digestAlgorithm name the hash.
    if algorithm["algorithm"].native == "rsassa_pkcs1v15" and digest_algorithm == "sha256":
        return SignatureScheme.RSA_PKCS1V15_SHA256
    return algorithms.scheme_for(algorithm)


def _attributes(signed_attrs: cms.CMSAttributes) -> dict[str, cms.CMSAttribute]:
    """Signed attributes by name; RFC 5652 §5.3 forbids a type appearing twice."""
    out: dict[str, object] = {}
    for attr in signed_attrs:
        name = attr["type"].native
        if name in out:
            raise SignatureInvalid(f"signed attribute {name} appears twice")
        out[name] = attr["values"]
    return out


def _single(attrs: dict[str, Any], name: str) -> Any:
    values = attrs.get(name)
    if values is None or len(values) != 1:
        raise SignatureInvalid(f"the signed attributes need exactly one {name} value")
    return values[0]


def _check_ess_binding(attrs: dict[str, Any], certificate: x509.Certificate) -> None:
    """The first ESSCertID(v2) must name the signer certificate (RFC 5035 §4)."""
    if "signing_certificate_v2" in attrs:
        cert_id = _single(attrs, "signing_certificate_v2")["certs"][0]
        hash_algorithm = cert_id["hash_algorithm"]["algorithm"].native
        if hash_algorithm not in _ESS_HASHES:
            raise SignatureInvalid(f"unsupported ESSCertIDv2 hash {hash_algorithm}")
        actual = algorithms.digest(hash_algorithm, certificate.dump())
    elif "signing_certificate" in attrs:
        cert_id = _single(attrs, "signing_certificate")["certs"][0]
        actual = hashlib.sha1(certificate.dump(), usedforsecurity=False).digest()
    else:
        return
    if cert_id["cert_hash"].native != actual:
        raise SignatureInvalid("the ESS signing-certificate attribute names another certificate")
    issuer_serial = cert_id["issuer_serial"]
    if not isinstance(issuer_serial, core.Void) and (
        issuer_serial["serial_number"].native != certificate.serial_number
    ):
        raise SignatureInvalid("the ESS signing-certificate serial names another certificate")
