"""GB/T 38540-2020 (SES v4) and GM/T 0031-2014 (SES v1) electronic seal structures.

An electronic seal (电子印章, ``SESeal``) is a seal maker's (制章者) signature over the seal's
header, identifier, properties (type, name, signer certificates, validity) and picture; a
sealed document carries an ``SES_Signature``: the signer's signature over ``TBS_Sign``
(the seal, the signing time, the hash of the protected data and a free property string),
optionally time-stamped.  No Python library declares them, so they are declared here in
asn1crypto's style, as issuers actually encode them (checked against ofdrw's Java classes
and real e-invoices):

- v4 signs DER(``SES_SealInfo``) and DER(``TBS_Sign``); dates are GeneralizedTime; the seal's
  ``certList`` holds certificates or certificate digests, as ``certListType`` says.
- v1 signs DER(``SEQUENCE {sealInfo, cert, signatureAlgorithm}``) for the seal and
  DER(``TBS_Sign``) — which then carries the signer's certificate and algorithm itself —
  for the signature; ``timeInfo`` is a BIT STRING (issuers put text times in it).  Real v1
  seals bend the standard in ways ofdrw tolerates and so do we: GeneralizedTime where
  UTCTime belongs, OCTET STRING where BIT STRING belongs, and ``certList`` entries that are
  not OCTET STRINGs.

Signature values and hashes are BIT STRINGs holding whole octets (``OctetBitString``).
Parsed values keep the bytes they were read from, so ``dump()`` of a parsed structure is
its input, even where an issuer wrote non-DER (an explicit ``critical FALSE``): signatures
are always checked over those received bytes, never over a re-encoding.
"""

from __future__ import annotations

from asn1crypto import core, x509

__all__ = [
    "CERT_LIST_CERTIFICATES",
    "CERT_LIST_DIGESTS",
    "CertDigestList",
    "CertDigestObj",
    "CertInfoList",
    "ExtData",
    "ExtensionDatas",
    "SESHeader",
    "SESPictureInfo",
    "SESPropertyInfo",
    "SESPropertyInfoV1",
    "SESSealInfo",
    "SESSealInfoV1",
    "SESSignInfoV1",
    "SESSignature",
    "SESSignatureV1",
    "SESeal",
    "SESealV1",
    "SealSignedPartV1",
    "TBSSign",
    "TBSSignV1",
]

CERT_LIST_CERTIFICATES = 1
"""``certListType`` value: ``certList`` is a SEQUENCE OF certificate DER (OCTET STRING)."""
CERT_LIST_DIGESTS = 2
"""``certListType`` value: ``certList`` is a SEQUENCE OF ``CertDigestObj``."""

# asn1crypto declares fields as class-level lists; RUF012 (mutable class attribute) does
# not apply to these declarations.
# ruff: noqa: RUF012


class SESHeader(core.Sequence):
    """``SES_Header``: ``id`` is always "ES"; ``version`` 4 (GB/T 38540) or 1 (GM/T 0031);
    ``vid`` names the maker's software vendor."""

    _fields = [
        ("id", core.IA5String),
        ("version", core.Integer),
        ("vid", core.IA5String),
    ]


class ExtData(core.Sequence):
    """One custom datum of a seal or signature, shaped like an X.509 extension."""

    _fields = [
        ("extn_id", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extn_value", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):
    _child_spec = ExtData


class CertInfoList(core.SequenceOf):
    """``certList`` when ``certListType`` = 1: the signer certificates, each DER."""

    _child_spec = core.OctetString


class CertDigestObj(core.Sequence):
    """A signer certificate named by digest: ``type`` is the hash's name (e.g. "sm3")."""

    _fields = [
        ("type", core.PrintableString),
        ("value", core.OctetString),
    ]


class CertDigestList(core.SequenceOf):
    """``certList`` when ``certListType`` = 2."""

    _child_spec = CertDigestObj


class SESPropertyInfo(core.Sequence):
    """``SES_ESPropertyInfo`` (v4): seal type, name, signer certificates, dates.

    The two ``certList`` alternatives are both SEQUENCEs, so the tag cannot tell them apart:
    ``certListType`` decides which one is read (a spec callback, as asn1crypto does for
    values whose type depends on a sibling).
    """

    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list_type", core.Integer),
        ("cert_list", core.Any),
        ("create_date", core.GeneralizedTime),
        ("valid_start", core.GeneralizedTime),
        ("valid_end", core.GeneralizedTime),
    ]

    def _cert_list_spec(self) -> type[core.Asn1Value]:
        if self["cert_list_type"].native == CERT_LIST_DIGESTS:
            return CertDigestList
        if self["cert_list_type"].native == CERT_LIST_CERTIFICATES:
            return CertInfoList
        return core.Any  # an unknown list type: left for the reader to refuse

    _spec_callbacks = {"cert_list": _cert_list_spec}


class SESPictureInfo(core.Sequence):
    """``SES_ESPictrueInfo`` (sic): image type ("PNG", "SVG", "ofd" …), bytes, size in mm."""

    _fields = [
        ("type", core.IA5String),
        ("data", core.OctetString),
        ("width", core.Integer),
        ("height", core.Integer),
    ]


class SESSealInfo(core.Sequence):
    """``SES_SealInfo`` (v4), the part the seal maker signs (its exact DER)."""

    _fields = [
        ("header", SESHeader),
        ("es_id", core.IA5String),
        ("property", SESPropertyInfo),
        ("picture", SESPictureInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SESeal(core.Sequence):
    """``SESeal`` (v4): the seal info, the maker's certificate and signature over it."""

    _fields = [
        ("e_seal_info", SESSealInfo),
        ("cert", core.OctetString),
        ("sign_alg_id", core.ObjectIdentifier),
        ("signed_value", core.OctetBitString),
    ]


class TBSSign(core.Sequence):
    """``TBS_Sign`` (v4), what the signer signs (its exact DER)."""

    _fields = [
        ("version", core.Integer),
        ("eseal", SESeal),
        ("time_info", core.GeneralizedTime),
        ("data_hash", core.OctetBitString),
        ("property_info", core.IA5String),
        ("ext_datas", ExtensionDatas, {"explicit": 0, "optional": True}),
    ]


class SESSignature(core.Sequence):
    """``SES_Signature`` (v4): ``timeStamp`` holds a DER RFC 3161 TimeStampToken over the
    signature value, in a BIT STRING under an explicit [0]."""

    _fields = [
        ("to_sign", TBSSign),
        ("cert", core.OctetString),
        ("signature_alg_id", core.ObjectIdentifier),
        ("signature", core.OctetBitString),
        ("time_stamp", core.OctetBitString, {"explicit": 0, "optional": True}),
    ]


# --- GM/T 0031-2014 (v1) -------------------------------------------------------------------


class _BitsOrOctets(core.Choice):
    """A BIT STRING of whole octets, or the OCTET STRING some v1 issuers write instead."""

    _alternatives = [
        ("bits", core.OctetBitString),
        ("octets", core.OctetString),
    ]


class _AnyCertEntries(core.SequenceOf):
    """v1 ``certList``: meant to be OCTET STRINGs; real seals also hold other things."""

    _child_spec = core.Any


class SESPropertyInfoV1(core.Sequence):
    """``SES_ESPropertyInfo`` (v1): no ``certListType``; dates are UTCTime (or, in real
    seals, GeneralizedTime — hence ``x509.Time``, the CHOICE of both)."""

    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list", _AnyCertEntries),
        ("create_date", x509.Time),
        ("valid_start", x509.Time),
        ("valid_end", x509.Time),
    ]


class SESSealInfoV1(core.Sequence):
    """``SES_SealInfo`` (v1)."""

    _fields = [
        ("header", SESHeader),
        ("es_id", core.IA5String),
        ("property", SESPropertyInfoV1),
        ("picture", SESPictureInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SESSignInfoV1(core.Sequence):
    """``SES_SignInfo`` (v1): the maker's certificate, algorithm and signature."""

    _fields = [
        ("cert", core.OctetString),
        ("signature_algorithm", core.ObjectIdentifier),
        ("sign_data", core.OctetBitString),
    ]


class SESealV1(core.Sequence):
    """``SESeal`` (v1)."""

    _fields = [
        ("eseal_info", SESSealInfoV1),
        ("sign_info", SESSignInfoV1),
    ]


class SealSignedPartV1(core.Sequence):
    """What a v1 seal maker signs: ``SEQUENCE {sealInfo, cert, signatureAlgorithm}``.

    Not a field of any structure; built from the parsed parts (which keep their bytes)."""

    _fields = [
        ("seal_info", SESSealInfoV1),
        ("cert", core.OctetString),
        ("signature_algorithm", core.ObjectIdentifier),
    ]


class TBSSignV1(core.Sequence):
    """``TBS_Sign`` (v1): carries the signer's certificate and algorithm inside the signed
    part; ``timeInfo`` is a BIT STRING (issuers write a text time into it)."""

    _fields = [
        ("version", core.Integer),
        ("eseal", SESealV1),
        ("time_info", _BitsOrOctets),
        ("data_hash", _BitsOrOctets),
        ("property_info", core.IA5String),
        ("cert", core.OctetString),
        ("signature_algorithm", core.ObjectIdentifier),
    ]


class SESSignatureV1(core.Sequence):
    """``SES_Signature`` (v1): the signed part and the signature value."""

    _fields = [
        ("to_sign", TBSSignV1),
        ("signature", core.OctetBitString),
    ]
