"""GB/T 38540 electronic seals and signatures: build, sign, read and check (v4; v1 read).

Four operations over DER bytes, with no notion of a seal registry or database:

- :func:`make_seal` — a seal maker (制章者) signs a seal's info into a v4 ``SESeal``;
- :func:`sign_ses` — a signer makes a v4 ``SES_Signature`` over a data hash with a seal,
  optionally time-stamped (RFC 3161 over the signature value);
- :func:`parse_seal`, :func:`parse_signature` — read v4 (GB/T 38540-2020) and v1 (GM/T
  0031-2014) structures into version-neutral, read-only views that keep the exact bytes
  every layer signed;
- :func:`check_signature` — the cryptographic layers of a signature, each with its own
  result: maker signature, signer signature, signer certificate in the seal's certList,
  ``dataHash`` against the data, signing time inside the seal's validity, time-stamp.

Certificate paths, trust and revocation are *not* checked here: that is the one
verification engine's job in sealsvc, which takes the certificates from these views.
Every SM2 signature is SM2-with-SM3 with the default signer ID ``1234567812345678`` and a
DER ``SEQUENCE {r, s}`` value, made and checked through :mod:`pki.algorithms`, so a key in
any key store (software or token) can be a maker or signer.

The version of a structure is told by its shape (``SESeal`` has four fields in v4, two in
v1; ``SES_Signature`` four or five in v4, two in v1), as ofdrw does, then confirmed by the
header: anything else — a v5 header, an ``id`` other than "ES" — is
:class:`UnsupportedSesVersion`; bytes that do not parse are :class:`SesFormatError`.
Both carry a one-line message, never an asn1crypto traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from asn1crypto import cms, core, tsp, x509
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate

from pki import algorithms
from pki.algorithms import KeyAlgorithm, SignatureScheme, SigningKey
from pki.asn1 import oids
from pki.asn1 import ses as asn1
from pki.cms import verify_signed_data
from pki.errors import PkiError, SignatureInvalid, UnsupportedAlgorithm

__all__ = [
    "DEFAULT_VID",
    "CertDigest",
    "Layer",
    "LayerResult",
    "LayerStatus",
    "Reason",
    "SealPicture",
    "SesCheck",
    "SesError",
    "SesExtension",
    "SesFormatError",
    "SesSeal",
    "SesSignature",
    "UnsupportedSesVersion",
    "check_seal",
    "check_signature",
    "make_seal",
    "parse_seal",
    "parse_signature",
    "sign_ses",
]

DEFAULT_VID = "sealsvc"
"""``SES_Header.vid`` of the seals we make: the maker software's vendor identifier."""

_SES_ID = "ES"
_VERSION_4 = 4
_VERSION_1 = 1
_SM3_BYTES = 32


class SesError(PkiError):
    """An SES structure cannot be built or read; the message is one line, safe to show."""


class SesFormatError(SesError):
    """The bytes are not a well-formed ``SESeal`` / ``SES_Signature``."""


class UnsupportedSesVersion(SesError):
    """A structure of an SES version (or shape, or header id) this module does not read."""


# --- views ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealPicture:
    """The seal's image as ``SES_ESPictrueInfo`` carries it."""

    type: str
    """Image format as the maker wrote it: "PNG", "SVG", "GIF", "ofd" …"""
    data: bytes
    """The image file's bytes."""
    width_mm: int
    """Width of the printed seal in millimetres."""
    height_mm: int
    """Height of the printed seal in millimetres."""


@dataclass(frozen=True)
class CertDigest:
    """A signer certificate named in ``certList`` by its digest (v4, ``certListType`` 2)."""

    algorithm: str
    """The digest's name as written (``CertDigestObj.type``, e.g. "sm3")."""
    value: bytes
    """The digest of the certificate's DER."""


@dataclass(frozen=True)
class SesExtension:
    """One ``ExtData`` of a seal or signature."""

    oid: str
    """``extnID``, dotted."""
    critical: bool
    value: bytes
    """``extnValue``'s octets."""


@dataclass(frozen=True, repr=False)
class SesSeal:
    """A parsed ``SESeal`` (v4 or v1), read-only; every field as the maker wrote it."""

    version: int
    """4 (GB/T 38540-2020) or 1 (GM/T 0031-2014)."""
    vid: str
    """The header's vendor id."""
    es_id: str
    """``esID``, the seal's code."""
    seal_type: int
    """``type`` of the property info (GB/T 38540: 1 official seal, 2 contract seal …)."""
    name: str
    cert_list_type: int
    """1: ``certificates`` lists the signer certificates; 2: ``cert_digests`` does."""
    certificates: tuple[bytes, ...]
    """DER of each signer certificate in ``certList`` (empty for a digest list).  v1 lists
    may hold entries other than OCTET STRINGs: those are not certificates and are left out."""
    cert_digests: tuple[CertDigest, ...]
    """The signer certificates' digests (``certListType`` 2), else empty."""
    created: datetime
    valid_start: datetime
    valid_end: datetime
    picture: SealPicture
    ext_datas: tuple[SesExtension, ...]
    maker_certificate: bytes
    """DER of the seal maker's certificate."""
    signature_algorithm: str
    """Dotted OID of the maker's signature algorithm (1.2.156.10197.1.501 for SM2/SM3)."""
    signature: bytes
    """The maker's signature value (DER ``SEQUENCE {r, s}`` for SM2)."""
    signed_bytes: bytes
    """Exactly what the maker signed: DER(``SES_SealInfo``) in v4, DER(``SEQUENCE
    {sealInfo, cert, signatureAlgorithm}``) in v1, from the received bytes."""
    der: bytes
    """The whole ``SESeal`` as received (``parse_seal(x).der == x``)."""

    def __repr__(self) -> str:
        return f"SesSeal(v{self.version}, {self.es_id!r}, {self.name!r})"


@dataclass(frozen=True, repr=False)
class SesSignature:
    """A parsed ``SES_Signature`` (v4 or v1), read-only."""

    version: int
    """4 or 1 (``TBS_Sign.version``, equal to the seal's)."""
    seal: SesSeal
    """The seal inside ``TBS_Sign``."""
    signer_certificate: bytes
    """DER of the signer's certificate (``cert``)."""
    signature_algorithm: str
    """Dotted OID of the signer's signature algorithm."""
    signature: bytes
    """The signer's signature value (DER ``SEQUENCE {r, s}`` for SM2)."""
    signed_bytes: bytes
    """Exactly what the signer signed: DER(``TBS_Sign``) as received."""
    signing_time: datetime | None
    """``timeInfo``, the signer's claimed time; ``None`` only for a v1 ``timeInfo`` whose
    text is in no format we read (its bytes are in ``time_info``)."""
    time_info: bytes
    """``timeInfo`` as received: GeneralizedTime text (v4) or the BIT STRING's octets (v1)."""
    data_hash: bytes
    """``dataHash``: the hash of the protected data (SM3 of ``Signature.xml`` in OFD)."""
    property_info: str
    """``propertyInfo`` (in OFD, the path of the ``Signature.xml`` hashed)."""
    time_stamp_token: bytes | None
    """DER of the RFC 3161 TimeStampToken over ``signature`` (v4 ``timeStamp``), if any."""
    ext_datas: tuple[SesExtension, ...]
    der: bytes
    """The whole ``SES_Signature`` as received."""

    def __repr__(self) -> str:
        return f"SesSignature(v{self.version}, seal {self.seal.es_id!r})"


# --- building ------------------------------------------------------------------------------


def make_seal(
    *,
    es_id: str,
    seal_type: int,
    name: str,
    signer_certificates: Sequence[bytes],
    created: datetime,
    valid_start: datetime,
    valid_end: datetime,
    picture: SealPicture,
    maker_certificate: bytes,
    maker: SigningKey,
    vid: str = DEFAULT_VID,
    ext_datas: Sequence[SesExtension] | None = None,
) -> bytes:
    """DER of a v4 ``SESeal`` whose info ``maker`` signs (SM2/SM3, default ID).

    ``certList`` lists ``signer_certificates`` by certificate (``certListType`` 1), the form
    every validator reads.  Dates are written in whole seconds, UTC.  Raises
    :class:`SesError` for input the structure cannot carry (an empty certificate list, a
    validity that ends before it starts, a non-ASCII ``es_id``) and
    :class:`~pki.errors.UnsupportedAlgorithm` unless ``maker`` is an SM2 key matching
    ``maker_certificate``.
    """
    _require_sm2(maker, maker_certificate, "seal maker")
    if not signer_certificates:
        raise SesError("a seal needs at least one signer certificate in its certList")
    for der in signer_certificates:
        _load_certificate(der, "signer certificate")
    start, end = _utc_seconds(valid_start), _utc_seconds(valid_end)
    if end <= start:
        raise SesError("the seal's validity must end after it starts")
    width, height = picture.width_mm, picture.height_mm
    if width <= 0 or height <= 0:
        raise SesError("the seal picture's width and height must be positive millimetres")
    with _building("seal"):
        info = asn1.SESSealInfo(
            {
                "header": {"id": _SES_ID, "version": _VERSION_4, "vid": _ia5(vid, "vid")},
                "es_id": _ia5(es_id, "esID"),
                "property": {
                    "type": seal_type,
                    "name": name,
                    "cert_list_type": asn1.CERT_LIST_CERTIFICATES,
                    "cert_list": asn1.CertInfoList(list(signer_certificates)),
                    "create_date": _utc_seconds(created),
                    "valid_start": start,
                    "valid_end": end,
                },
                "picture": {
                    "type": _ia5(picture.type, "picture type"),
                    "data": picture.data,
                    "width": width,
                    "height": height,
                },
                "ext_datas": _ext_datas(ext_datas),
            }
        )
        info_der = info.dump()
    signature = maker.sign(info_der, SignatureScheme.SM2_SM3)
    return asn1.SESeal(
        {
            "e_seal_info": asn1.SESSealInfo.load(info_der),
            "cert": maker_certificate,
            "sign_alg_id": oids.SM2_SM3,
            "signed_value": signature,
        }
    ).dump()


def sign_ses(
    *,
    seal: bytes,
    signer_certificate: bytes,
    signer: SigningKey,
    data_hash: bytes,
    property_info: str,
    signing_time: datetime,
    timestamper: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """DER of a v4 ``SES_Signature`` by ``signer`` with ``seal`` over ``data_hash``.

    ``data_hash`` is the SM3 digest (32 bytes) of the protected data; ``property_info`` is
    free ASCII (OFD puts the ``Signature.xml`` path there).  The seal must be a v4 seal
    that lists ``signer_certificate`` — a signature its own certList does not cover would
    fail every validator — and ``signer`` must be the SM2 key of that certificate.
    ``timestamper(signature_value)`` returns a DER TimeStampToken over the signature value
    (RFC 3161), put in ``timeStamp``.  The seal is embedded byte for byte.
    """
    _require_sm2(signer, signer_certificate, "signer")
    if len(data_hash) != _SM3_BYTES:
        raise SesError(f"dataHash must be an SM3 digest of 32 bytes, not {len(data_hash)}")
    seal_value, listed = _seal_for_signing(seal)
    if signer_certificate not in listed:
        raise SesError("the signer certificate is not in the seal's certList")
    with _building("signature"):
        to_sign = asn1.TBSSign(
            {
                "version": _VERSION_4,
                "eseal": seal_value,
                "time_info": _utc_seconds(signing_time),
                "data_hash": data_hash,
                "property_info": _ia5(property_info, "propertyInfo"),
            }
        )
        to_sign_der = to_sign.dump()
    signature = signer.sign(to_sign_der, SignatureScheme.SM2_SM3)
    fields = {
        "to_sign": asn1.TBSSign.load(to_sign_der),
        "cert": signer_certificate,
        "signature_alg_id": oids.SM2_SM3,
        "signature": signature,
    }
    if timestamper is not None:
        fields["time_stamp"] = timestamper(signature)
    return asn1.SESSignature(fields).dump()


@functools.lru_cache(maxsize=64)
def _seal_for_signing(seal: bytes) -> tuple[asn1.SESeal, frozenset[bytes]]:
    """The parsed v4 seal (embedded as is: it dumps its own bytes) and the certificates its
    certList names.  Cached: a seal signs many documents, and this keeps a signature's
    cost to building ``TBS_Sign`` and the SM2 operation."""
    view = parse_seal(seal)
    if view.version != _VERSION_4:
        raise UnsupportedSesVersion("only v4 (GB/T 38540) seals can make new signatures")
    if view.cert_list_type != asn1.CERT_LIST_CERTIFICATES:
        raise SesError("a seal whose certList holds digests cannot be checked by signers here")
    return asn1.SESeal.load(seal), frozenset(view.certificates)


def _require_sm2(key: SigningKey, certificate: bytes, who: str) -> None:
    if key.key_algorithm is not KeyAlgorithm.SM2:
        raise UnsupportedAlgorithm(f"the {who} key must be SM2, not {key.key_algorithm.value}")
    if _spki_of(certificate) != key.public_key_info.dump():
        raise SesError(f"the {who} key does not match the {who} certificate")


@functools.lru_cache(maxsize=64)
def _spki_of(certificate: bytes) -> bytes:
    """The SubjectPublicKeyInfo DER of a certificate (cached: the same few certificates
    sign over and over)."""
    return _load_certificate(certificate, "certificate").public_key.dump()


def _load_certificate(der: bytes, what: str) -> x509.Certificate:
    with _reading(what):
        certificate = x509.Certificate.load(der, strict=True)
        certificate.public_key.dump()  # forces the parse of what we use
    return certificate


def _utc_seconds(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise SesError("SES times must be timezone-aware datetimes")
    return moment.astimezone(UTC).replace(microsecond=0)


def _ia5(text: str, what: str) -> str:
    if not text.isascii():
        raise SesError(f"{what} must be ASCII (an IA5String), got {text!r}")
    return text


def _ext_datas(ext_datas: Sequence[SesExtension] | None) -> asn1.ExtensionDatas | None:
    if not ext_datas:
        return None
    return asn1.ExtensionDatas(
        [{"extn_id": e.oid, "critical": e.critical, "extn_value": e.value} for e in ext_datas]
    )


@contextmanager
def _building(what: str) -> Iterator[None]:
    """asn1crypto's complaints about a value it cannot encode, as one-line SesErrors."""
    try:
        yield
    except (ValueError, TypeError, OverflowError) as exc:
        raise SesError(f"cannot encode the {what}: {_first_line(exc)}") from None


# --- parsing -------------------------------------------------------------------------------


class _Elements(core.SequenceOf):
    """Any SEQUENCE, read only to count its elements (the shape tells the version)."""

    _child_spec = core.Any


_PARSE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    OverflowError,
    RecursionError,
)
"""What asn1crypto raises on malformed input (AttributeError and IndexError included:
fuzzing finds them on odd tags and truncated lengths)."""


@contextmanager
def _reading(what: str) -> Iterator[None]:
    try:
        yield
    except SesError:
        raise
    except _PARSE_ERRORS as exc:
        raise SesFormatError(f"malformed {what}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 160 else line[:157] + "..."


def _shape(der: bytes, what: str) -> int:
    """The number of elements of the outer SEQUENCE; a CMS ContentInfo (an OFD ``Sign``
    signature of GM/T 0099 is one) is refused by name rather than misread as v1."""
    if not isinstance(der, bytes | bytearray | memoryview):
        raise SesFormatError(f"{what} must be bytes")
    with _reading(what):
        elements = _Elements.load(bytes(der), strict=True)
        count = len(elements)
        content_info = count == 2 and isinstance(elements[0].parse(), core.ObjectIdentifier)
    if content_info:
        raise UnsupportedSesVersion(
            f"not an {what}: a CMS ContentInfo (e.g. a GB/T 35275 SignedData)"
        )
    return count


def parse_seal(der: bytes) -> SesSeal:
    """Read a DER ``SESeal`` of version 4 or 1 (e.g. a ``Seal.esl`` file)."""
    count = _shape(der, "SESeal")
    with _reading("SESeal"):
        if count == 4:
            return _seal_v4(asn1.SESeal.load(bytes(der)))
        if count == 2:
            return _seal_v1(asn1.SESealV1.load(bytes(der)))
    raise UnsupportedSesVersion(f"unsupported SES version: an SESeal of {count} fields")


def parse_signature(der: bytes) -> SesSignature:
    """Read a DER ``SES_Signature`` of version 4 or 1 (e.g. an OFD ``SignedValue.dat``)."""
    count = _shape(der, "SES_Signature")
    with _reading("SES_Signature"):
        if count in (4, 5):
            return _signature_v4(asn1.SESSignature.load(bytes(der)))
        if count == 2:
            return _signature_v1(asn1.SESSignatureV1.load(bytes(der)))
    raise UnsupportedSesVersion(f"unsupported SES version: an SES_Signature of {count} fields")


def _check_header(header: asn1.SESHeader, expected: int) -> None:
    if header["id"].native != _SES_ID:
        raise UnsupportedSesVersion(
            f"unsupported SES version: header id {header['id'].native!r}, not 'ES'"
        )
    version = header["version"].native
    if version != expected:
        raise UnsupportedSesVersion(
            f"unsupported SES version {version} in a v{expected}-shaped structure"
        )


def _picture(picture: asn1.SESPictureInfo) -> SealPicture:
    return SealPicture(
        picture["type"].native,
        picture["data"].native,
        picture["width"].native,
        picture["height"].native,
    )


def _extensions(ext_datas: asn1.ExtensionDatas | core.Void) -> tuple[SesExtension, ...]:
    if isinstance(ext_datas, core.Void):
        return ()
    return tuple(
        SesExtension(e["extn_id"].dotted, bool(e["critical"].native), e["extn_value"].native)
        for e in ext_datas
    )


def _aware(moment: datetime) -> datetime:
    """A parsed time as UTC; a GeneralizedTime without a zone is read as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _seal_v4(seal: asn1.SESeal) -> SesSeal:
    info = seal["e_seal_info"]
    _check_header(info["header"], _VERSION_4)
    prop = info["property"]
    list_type = prop["cert_list_type"].native
    cert_list = prop["cert_list"]
    if list_type == asn1.CERT_LIST_CERTIFICATES:
        certificates = tuple(c.native for c in cert_list)
        digests: tuple[CertDigest, ...] = ()
    elif list_type == asn1.CERT_LIST_DIGESTS:
        certificates = ()
        digests = tuple(CertDigest(d["type"].native, d["value"].native) for d in cert_list)
    else:
        raise SesFormatError(f"malformed SESeal: certListType {list_type} is neither 1 nor 2")
    return SesSeal(
        version=_VERSION_4,
        vid=info["header"]["vid"].native,
        es_id=info["es_id"].native,
        seal_type=prop["type"].native,
        name=prop["name"].native,
        cert_list_type=list_type,
        certificates=certificates,
        cert_digests=digests,
        created=_aware(prop["create_date"].native),
        valid_start=_aware(prop["valid_start"].native),
        valid_end=_aware(prop["valid_end"].native),
        picture=_picture(info["picture"]),
        ext_datas=_extensions(info["ext_datas"]),
        maker_certificate=seal["cert"].native,
        signature_algorithm=seal["sign_alg_id"].dotted,
        signature=seal["signed_value"].native,
        signed_bytes=info.dump(),
        der=seal.dump(),
    )


def _seal_v1(seal: asn1.SESealV1) -> SesSeal:
    info = seal["eseal_info"]
    _check_header(info["header"], _VERSION_1)
    prop = info["property"]
    sign_info = seal["sign_info"]
    signed_part = asn1.SealSignedPartV1(
        {
            "seal_info": info,
            "cert": sign_info["cert"],
            "signature_algorithm": sign_info["signature_algorithm"],
        }
    )
    return SesSeal(
        version=_VERSION_1,
        vid=info["header"]["vid"].native,
        es_id=info["es_id"].native,
        seal_type=prop["type"].native,
        name=prop["name"].native,
        cert_list_type=asn1.CERT_LIST_CERTIFICATES,
        certificates=tuple(
            entry.parse(core.OctetString).native
            for entry in prop["cert_list"]
            if _is_octet_string(entry)
        ),
        cert_digests=(),
        created=_aware(prop["create_date"].native),
        valid_start=_aware(prop["valid_start"].native),
        valid_end=_aware(prop["valid_end"].native),
        picture=_picture(info["picture"]),
        ext_datas=_extensions(info["ext_datas"]),
        maker_certificate=sign_info["cert"].native,
        signature_algorithm=sign_info["signature_algorithm"].dotted,
        signature=sign_info["sign_data"].native,
        signed_bytes=signed_part.dump(),
        der=seal.dump(),
    )


def _is_octet_string(entry: core.Any) -> bool:
    """Whether a v1 ``certList`` entry is what GM/T 0031 says it is: an OCTET STRING."""
    return type(entry.parse()) is core.OctetString


def _signature_v4(signature: asn1.SESSignature) -> SesSignature:
    to_sign = signature["to_sign"]
    seal = _seal_v4(to_sign["eseal"])
    if to_sign["version"].native != _VERSION_4:
        raise UnsupportedSesVersion(
            f"unsupported SES version {to_sign['version'].native} in TBS_Sign"
        )
    time_stamp = signature["time_stamp"]
    return SesSignature(
        version=_VERSION_4,
        seal=seal,
        signer_certificate=signature["cert"].native,
        signature_algorithm=signature["signature_alg_id"].dotted,
        signature=signature["signature"].native,
        signed_bytes=to_sign.dump(),
        signing_time=_aware(to_sign["time_info"].native),
        time_info=to_sign["time_info"].contents,
        data_hash=to_sign["data_hash"].native,
        property_info=to_sign["property_info"].native,
        time_stamp_token=None if isinstance(time_stamp, core.Void) else time_stamp.native,
        ext_datas=_extensions(to_sign["ext_datas"]),
        der=signature.dump(),
    )


def _signature_v1(signature: asn1.SESSignatureV1) -> SesSignature:
    to_sign = signature["to_sign"]
    seal = _seal_v1(to_sign["eseal"])
    if to_sign["version"].native != _VERSION_1:
        raise UnsupportedSesVersion(
            f"unsupported SES version {to_sign['version'].native} in TBS_Sign"
        )
    time_info = to_sign["time_info"].chosen.native
    return SesSignature(
        version=_VERSION_1,
        seal=seal,
        signer_certificate=to_sign["cert"].native,
        signature_algorithm=to_sign["signature_algorithm"].dotted,
        signature=signature["signature"].native,
        signed_bytes=to_sign.dump(),
        signing_time=_v1_time(time_info),
        time_info=time_info,
        data_hash=to_sign["data_hash"].chosen.native,
        property_info=to_sign["property_info"].native,
        time_stamp_token=None,
        ext_datas=(),
        der=signature.dump(),
    )


_V1_TIME_FORMATS = ("%Y%m%d%H%M%SZ", "%y%m%d%H%M%SZ", "%Y-%m-%d %H:%M:%S")
"""Text times found in v1 ``timeInfo`` besides ISO 8601: GeneralizedTime, UTCTime, and the
OFD ``SignatureDateTime`` style (read as UTC)."""


def _v1_time(time_info: bytes) -> datetime | None:
    """The time a v1 ``timeInfo`` holds as text, or ``None`` if it is in no known format.

    GM/T 0031 leaves the content open ("a time-stamp or a UTC time"); real issuers write
    ISO 8601 text such as ``2020-01-25T07:31:56.377Z``.
    """
    try:
        text = time_info.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    try:
        return _aware(datetime.fromisoformat(text))
    except ValueError:
        pass
    for pattern in _V1_TIME_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


# --- checking ------------------------------------------------------------------------------


class Layer(StrEnum):
    """The cryptographic layers of an SES signature, in the order they are checked."""

    MAKER_SIGNATURE = "maker_signature"
    """The seal maker's signature over the seal info."""
    SIGNER_SIGNATURE = "signer_signature"
    """The signer's signature over ``TBS_Sign``."""
    CERT_LIST = "cert_list"
    """The signer's certificate is one the seal lists (by certificate or by digest)."""
    DATA_HASH = "data_hash"
    """``dataHash`` is the SM3 digest of the data the caller supplied."""
    VALIDITY = "validity"
    """The signing time lies inside the seal's validity window."""
    TIME_STAMP = "time_stamp"
    """The time-stamp token is over the signature value and its signature verifies."""


class LayerStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"
    """Nothing to check: no data supplied, or no time-stamp in the signature."""


class Reason(StrEnum):
    """Why a layer failed; :attr:`sub_indication` is the ETSI EN 319 102-1 counterpart."""

    SIGNATURE_INVALID = "signature_invalid"
    HASH_MISMATCH = "hash_mismatch"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    MALFORMED = "malformed"
    NOT_IN_CERT_LIST = "not_in_cert_list"
    SEAL_NOT_YET_VALID = "seal_not_yet_valid"
    SEAL_EXPIRED = "seal_expired"
    SIGNING_TIME_UNKNOWN = "signing_time_unknown"

    @property
    def sub_indication(self) -> AdESFailure | AdESIndeterminate:
        """The ETSI sub-indication a report shows for this reason."""
        return _SUB_INDICATIONS[self]


_SUB_INDICATIONS: dict[Reason, AdESFailure | AdESIndeterminate] = {
    Reason.SIGNATURE_INVALID: AdESFailure.SIG_CRYPTO_FAILURE,
    Reason.HASH_MISMATCH: AdESFailure.HASH_FAILURE,
    Reason.UNSUPPORTED_ALGORITHM: AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE,
    Reason.MALFORMED: AdESFailure.FORMAT_FAILURE,
    # The seal does not authorise this signer: a constraint of the signature, not its maths.
    Reason.NOT_IN_CERT_LIST: AdESIndeterminate.SIG_CONSTRAINTS_FAILURE,
    Reason.SEAL_NOT_YET_VALID: AdESFailure.NOT_YET_VALID,
    Reason.SEAL_EXPIRED: AdESIndeterminate.EXPIRED,
    Reason.SIGNING_TIME_UNKNOWN: AdESIndeterminate.GENERIC,
}


@dataclass(frozen=True)
class LayerResult:
    """The outcome of one layer."""

    layer: Layer
    status: LayerStatus
    reason: Reason | None
    """Why it failed (``None`` unless ``status`` is FAILED)."""
    message: str
    """One English sentence for a report or a log; never key material."""

    @property
    def passed(self) -> bool:
        return self.status is LayerStatus.PASSED


@dataclass(frozen=True)
class SesCheck:
    """The result of :func:`check_signature`: one :class:`LayerResult` per :class:`Layer`."""

    layers: tuple[LayerResult, ...]
    """All six layers, in :class:`Layer` order."""
    signing_time: datetime | None
    """The time the validity layer used: the time-stamp's genTime when a valid token is
    present, else the signer's claimed ``timeInfo`` (``None`` if unreadable)."""
    time_stamped: bool
    """True when ``signing_time`` comes from a verified time-stamp token."""

    def __getitem__(self, layer: Layer) -> LayerResult:
        return next(result for result in self.layers if result.layer is layer)

    @property
    def ok(self) -> bool:
        """No layer failed (layers not checked do not count against it)."""
        return not self.failures

    @property
    def failures(self) -> tuple[LayerResult, ...]:
        return tuple(r for r in self.layers if r.status is LayerStatus.FAILED)


def _passed(layer: Layer, message: str) -> LayerResult:
    return LayerResult(layer, LayerStatus.PASSED, None, message)


def _failed(layer: Layer, reason: Reason, message: str) -> LayerResult:
    return LayerResult(layer, LayerStatus.FAILED, reason, message)


def _not_checked(layer: Layer, message: str) -> LayerResult:
    return LayerResult(layer, LayerStatus.NOT_CHECKED, None, message)


def check_seal(seal: SesSeal) -> LayerResult:
    """The maker layer alone: the maker's SM2 signature over the seal info verifies."""
    return _check_sm2(
        Layer.MAKER_SIGNATURE,
        "maker",
        seal.maker_certificate,
        seal.signed_bytes,
        seal.signature,
        seal.signature_algorithm,
    )


def check_signature(signature: SesSignature, data: bytes | None = None) -> SesCheck:
    """Check every cryptographic layer of ``signature``; ``data`` is the protected data
    (e.g. the raw ``Signature.xml`` bytes) when the caller has it.

    No layer stops the others: a report shows them all.  Trust, paths and revocation of
    the maker, signer and TSA certificates are the caller's (the engine's) to check.
    """
    time_stamp, stamped_at = _check_time_stamp(signature)
    signing_time = stamped_at or signature.signing_time
    layers = (
        check_seal(signature.seal),
        _check_sm2(
            Layer.SIGNER_SIGNATURE,
            "signer",
            signature.signer_certificate,
            signature.signed_bytes,
            signature.signature,
            signature.signature_algorithm,
        ),
        _check_cert_list(signature),
        _check_data_hash(signature, data),
        _check_validity(signature.seal, signing_time, stamped_at is not None),
        time_stamp,
    )
    return SesCheck(layers, signing_time, stamped_at is not None)


def _check_sm2(
    layer: Layer, who: str, certificate: bytes, message: bytes, value: bytes, algorithm: str
) -> LayerResult:
    if algorithm != oids.SM2_SM3:
        return _failed(
            layer,
            Reason.UNSUPPORTED_ALGORITHM,
            f"the {who} signature algorithm {algorithm} is not SM2 with SM3",
        )
    try:
        public_key = _load_certificate(certificate, f"{who} certificate").public_key
    except SesFormatError as exc:
        return _failed(layer, Reason.MALFORMED, str(exc))
    try:
        algorithms.verify(public_key, message, value, SignatureScheme.SM2_SM3)
    except (SignatureInvalid, UnsupportedAlgorithm):
        return _failed(
            layer,
            Reason.SIGNATURE_INVALID,
            f"the {who} signature does not verify as SM2 with SM3 under the {who} certificate",
        )
    return _passed(layer, f"the {who} signature verifies (SM2 with SM3)")


def _check_cert_list(signature: SesSignature) -> LayerResult:
    seal, signer = signature.seal, signature.signer_certificate
    if seal.cert_list_type == asn1.CERT_LIST_CERTIFICATES:
        if signer in seal.certificates:
            return _passed(Layer.CERT_LIST, "the seal's certList lists the signer certificate")
        return _failed(
            Layer.CERT_LIST,
            Reason.NOT_IN_CERT_LIST,
            f"the signer certificate is not among the {len(seal.certificates)} "
            "certificate(s) in the seal's certList",
        )
    known = [d for d in seal.cert_digests if d.algorithm.lower() in _DIGESTS]
    if any(algorithms.digest(d.algorithm.lower(), signer) == d.value for d in known):
        return _passed(Layer.CERT_LIST, "the seal's certList lists the signer by digest")
    if not known and seal.cert_digests:
        names = ", ".join(sorted({d.algorithm for d in seal.cert_digests}))
        return _failed(
            Layer.CERT_LIST,
            Reason.UNSUPPORTED_ALGORITHM,
            f"the seal's certList uses digests we do not compute ({names})",
        )
    return _failed(
        Layer.CERT_LIST,
        Reason.NOT_IN_CERT_LIST,
        "no digest in the seal's certList matches the signer certificate",
    )


_DIGESTS = frozenset({"sm3", "sha256", "sha384", "sha512"})


def _check_data_hash(signature: SesSignature, data: bytes | None) -> LayerResult:
    if data is None:
        return _not_checked(Layer.DATA_HASH, "no data was given to check dataHash against")
    if algorithms.digest("sm3", data) == signature.data_hash:
        return _passed(Layer.DATA_HASH, "dataHash is the SM3 digest of the data")
    return _failed(
        Layer.DATA_HASH, Reason.HASH_MISMATCH, "dataHash is not the SM3 digest of the data"
    )


def _check_validity(seal: SesSeal, at: datetime | None, stamped: bool) -> LayerResult:
    if at is None:
        return _failed(
            Layer.VALIDITY,
            Reason.SIGNING_TIME_UNKNOWN,
            "the signing time cannot be read, so the seal's validity cannot be checked",
        )
    source = "time-stamped" if stamped else "claimed"
    when = f"{source} signing time {at:%Y-%m-%d %H:%M:%S}Z"
    window = f"{seal.valid_start:%Y-%m-%d %H:%M:%S}Z to {seal.valid_end:%Y-%m-%d %H:%M:%S}Z"
    if at < seal.valid_start:
        return _failed(
            Layer.VALIDITY,
            Reason.SEAL_NOT_YET_VALID,
            f"the {when} is before the seal's validity ({window})",
        )
    if at > seal.valid_end:
        return _failed(
            Layer.VALIDITY,
            Reason.SEAL_EXPIRED,
            f"the {when} is after the seal's validity ({window})",
        )
    return _passed(Layer.VALIDITY, f"the {when} is inside the seal's validity ({window})")


def _check_time_stamp(signature: SesSignature) -> tuple[LayerResult, datetime | None]:
    """The time-stamp layer, and the verified genTime (``None`` if absent or invalid)."""
    token = signature.time_stamp_token
    if token is None:
        return _not_checked(Layer.TIME_STAMP, "the signature carries no time-stamp"), None
    try:
        content_info = cms.ContentInfo.load(token, strict=True)
        identity = verify_signed_data(content_info)
        tst_info = tsp.TSTInfo.load(identity.content, strict=True)
        imprint = tst_info["message_imprint"]
        hash_name = imprint["hash_algorithm"]["algorithm"].native
        expected = imprint["hashed_message"].native
        gen_time = _aware(tst_info["gen_time"].native)
        actual = algorithms.digest(hash_name, signature.signature)
    except SignatureInvalid as exc:
        return _failed(Layer.TIME_STAMP, Reason.SIGNATURE_INVALID, f"time-stamp: {exc}"), None
    except UnsupportedAlgorithm as exc:
        return _failed(Layer.TIME_STAMP, Reason.UNSUPPORTED_ALGORITHM, f"time-stamp: {exc}"), None
    except _PARSE_ERRORS as exc:
        message = f"the time-stamp token is malformed: {_first_line(exc)}"
        return _failed(Layer.TIME_STAMP, Reason.MALFORMED, message), None
    if actual != expected:
        message = "the time-stamp's message imprint is not over the signature value"
        return _failed(Layer.TIME_STAMP, Reason.HASH_MISMATCH, message), None
    message = (
        f"the time-stamp over the signature value verifies; genTime {gen_time:%Y-%m-%d %H:%M:%S}Z"
    )
    return _passed(Layer.TIME_STAMP, message), gen_time
