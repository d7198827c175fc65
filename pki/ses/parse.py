"""Reading ``SESeal`` and ``SES_Signature`` of version 4 or 1 into the views of
:mod:`pki.ses.model`, keeping the exact bytes each layer signed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from asn1crypto import core, x509

from pki.asn1 import ses as asn1
from pki.ses.model import (
    SES_ID,
    VERSION_1,
    VERSION_4,
    CertDigest,
    SealPicture,
    SesError,
    SesExtension,
    SesFormatError,
    SesSeal,
    SesSignature,
    UnsupportedSesVersion,
)

__all__ = [
    "PARSE_ERRORS",
    "first_line",
    "load_certificate",
    "parse_seal",
    "parse_signature",
    "reading",
    "utc",
]


class _Elements(core.SequenceOf):
    """Any SEQUENCE, read only to count its elements (the shape tells the version)."""

    _child_spec = core.Any


PARSE_ERRORS = (
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
def reading(what: str) -> Iterator[None]:
    """asn1crypto's complaints about malformed ``what`` as a one-line SesFormatError."""
    try:
        yield
    except SesError:
        raise
    except PARSE_ERRORS as exc:
        raise SesFormatError(f"malformed {what}: {first_line(exc)}") from None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (asn1crypto adds "while parsing" lines),
    at most 160 characters: what goes into our one-line errors."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 160 else line[:157] + "..."


def _shape(der: bytes, what: str) -> int:
    """The number of elements of the outer SEQUENCE; a CMS ContentInfo (an OFD ``Sign``
    signature of GM/T 0099 is one) is refused by name rather than misread as v1."""
    if not isinstance(der, bytes | bytearray | memoryview):
        raise SesFormatError(f"{what} must be bytes")
    with reading(what):
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
    with reading("SESeal"):
        if count == 4:
            return _seal_v4(asn1.SESeal.load(bytes(der)))
        if count == 2:
            return _seal_v1(asn1.SESealV1.load(bytes(der)))
    raise UnsupportedSesVersion(f"unsupported SES version: an SESeal of {count} fields")


def parse_signature(der: bytes) -> SesSignature:
    """Read a DER ``SES_Signature`` of version 4 or 1 (e.g. an OFD ``SignedValue.dat``)."""
    count = _shape(der, "SES_Signature")
    with reading("SES_Signature"):
        if count in (4, 5):
            return _signature_v4(asn1.SESSignature.load(bytes(der)))
        if count == 2:
            return _signature_v1(asn1.SESSignatureV1.load(bytes(der)))
    raise UnsupportedSesVersion(f"unsupported SES version: an SES_Signature of {count} fields")


def _check_header(header: asn1.SESHeader, expected: int) -> None:
    if header["id"].native != SES_ID:
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


def utc(moment: datetime) -> datetime:
    """A parsed time as UTC; a GeneralizedTime without a zone is read as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _seal_v4(seal: asn1.SESeal) -> SesSeal:
    info = seal["e_seal_info"]
    _check_header(info["header"], VERSION_4)
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
        version=VERSION_4,
        vid=info["header"]["vid"].native,
        es_id=info["es_id"].native,
        seal_type=prop["type"].native,
        name=prop["name"].native,
        cert_list_type=list_type,
        certificates=certificates,
        cert_digests=digests,
        created=utc(prop["create_date"].native),
        valid_start=utc(prop["valid_start"].native),
        valid_end=utc(prop["valid_end"].native),
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
    _check_header(info["header"], VERSION_1)
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
        version=VERSION_1,
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
        created=utc(prop["create_date"].native),
        valid_start=utc(prop["valid_start"].native),
        valid_end=utc(prop["valid_end"].native),
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
    if to_sign["version"].native != VERSION_4:
        raise UnsupportedSesVersion(
            f"unsupported SES version {to_sign['version'].native} in TBS_Sign"
        )
    time_stamp = signature["time_stamp"]
    return SesSignature(
        version=VERSION_4,
        seal=seal,
        signer_certificate=signature["cert"].native,
        signature_algorithm=signature["signature_alg_id"].dotted,
        signature=signature["signature"].native,
        signed_bytes=to_sign.dump(),
        signing_time=utc(to_sign["time_info"].native),
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
    if to_sign["version"].native != VERSION_1:
        raise UnsupportedSesVersion(
            f"unsupported SES version {to_sign['version'].native} in TBS_Sign"
        )
    time_info = to_sign["time_info"].chosen.native
    return SesSignature(
        version=VERSION_1,
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


_V1_TIME_FORMATS = ("%Y%m%d%H%M%SZ", "%Y%m%d%H%M%S.%fZ", "%y%m%d%H%M%SZ")
"""Compact text times found in v1 ``timeInfo``: GeneralizedTime (with or without a
fraction) and UTCTime.  Tried before ISO 8601, whose *basic* format Python also reads and
would misread "20261204010547Z" as 10:54 (found by tests/test_ses_v1.py)."""


def _v1_time(time_info: bytes) -> datetime | None:
    """The time a v1 ``timeInfo`` holds as text, or ``None`` if it is in no known format.

    GM/T 0031 leaves the content open ("a time-stamp or a UTC time"); real issuers write
    ISO 8601 text such as ``2020-01-25T07:31:56.377Z``; a time without a zone is read as UTC.
    """
    try:
        text = time_info.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    for pattern in _V1_TIME_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    if text[4:5] != "-":  # only the extended ISO 8601 form, 2020-01-25…
        return None
    try:
        return utc(datetime.fromisoformat(text))
    except ValueError:
        return None


def load_certificate(der: bytes, what: str) -> x509.Certificate:
    """A certificate from DER, its public key parsed through; SesFormatError if not one."""
    with reading(what):
        certificate = x509.Certificate.load(der, strict=True)
        certificate.public_key.native  # noqa: B018  (parses all of what we use, now)
    return certificate
