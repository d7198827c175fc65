"""Errors and read-only views of SES structures, shared by every part of :mod:`pki.ses`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pki.errors import PkiError

__all__ = [
    "DEFAULT_VID",
    "SES_ID",
    "VERSION_1",
    "VERSION_4",
    "CertDigest",
    "SealPicture",
    "SesError",
    "SesExtension",
    "SesFormatError",
    "SesSeal",
    "SesSignature",
    "UnsupportedSesVersion",
]

DEFAULT_VID = "sealsvc"
"""``SES_Header.vid`` of the seals we make: the maker software's vendor identifier."""
SES_ID = "ES"
"""``SES_Header.id`` of every SES structure."""
VERSION_4 = 4
"""GB/T 38540-2020."""
VERSION_1 = 1
"""GM/T 0031-2014."""


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
