"""Making seals (the seal maker's signature) and v4 signatures (the signer's)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from asn1crypto import core

from pki.algorithms import KeyAlgorithm, SignatureScheme, SigningKey
from pki.asn1 import oids
from pki.asn1 import ses as asn1
from pki.asn1.cached import parsed
from pki.errors import UnsupportedAlgorithm
from pki.ses.check import lists_certificate
from pki.ses.model import (
    DEFAULT_VID,
    SES_ID,
    VERSION_4,
    SealPicture,
    SesError,
    SesExtension,
    SesSeal,
    UnsupportedSesVersion,
)
from pki.ses.parse import first_line, load_certificate, parse_seal

__all__ = ["make_seal", "sign_ses"]

_SM3_BYTES = 32
# The per-signature constants, parsed once so they serialise from cached bytes
# (``pki.asn1.cached``): a signature is then mostly the SM2 operation.
_TBS_VERSION_4 = parsed(core.Integer(VERSION_4))
_SM2_SM3_OID = parsed(core.ObjectIdentifier(oids.SM2_SM3))


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
    validity that ends before it starts, a non-ASCII ``es_id``, a ``maker`` that is not the
    key of ``maker_certificate``) and :class:`~pki.errors.UnsupportedAlgorithm` unless
    ``maker`` is an SM2 key.
    """
    _require_sm2(maker, maker_certificate, "seal maker")
    if not signer_certificates:
        raise SesError("a seal needs at least one signer certificate in its certList")
    for der in signer_certificates:
        load_certificate(der, "signer certificate")
    start, end = _utc_seconds(valid_start), _utc_seconds(valid_end)
    if end <= start:
        raise SesError("the seal's validity must end after it starts")
    width, height = picture.width_mm, picture.height_mm
    if width <= 0 or height <= 0:
        raise SesError("the seal picture's width and height must be positive millimetres")
    with _building("seal"):
        info = asn1.SESSealInfo(
            {
                "header": {"id": SES_ID, "version": VERSION_4, "vid": _ia5(vid, "vid")},
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
            "sign_alg_id": _SM2_SM3_OID,
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
    seal_value, seal_view = _seal_for_signing(seal)
    if not lists_certificate(seal_view, signer_certificate):
        raise SesError("the signer certificate is not in the seal's certList")
    with _building("signature"):
        to_sign = asn1.TBSSign(
            {
                "version": _TBS_VERSION_4,
                "eseal": seal_value,
                "time_info": _utc_seconds(signing_time),
                "data_hash": data_hash,
                "property_info": _ia5(property_info, "propertyInfo"),
            }
        )
        to_sign_der = to_sign.dump()
    signature = signer.sign(to_sign_der, SignatureScheme.SM2_SM3)
    fields = {
        # Re-read, not the built value: asn1crypto re-encodes a built value (and all that
        # it holds) each time a parent is dumped, a parsed one dumps the bytes it was read from.
        "to_sign": asn1.TBSSign.load(to_sign_der),
        "cert": signer_certificate,
        "signature_alg_id": _SM2_SM3_OID,
        "signature": signature,
    }
    if timestamper is not None:
        fields["time_stamp"] = timestamper(signature)
    return asn1.SESSignature(fields).dump()


@functools.lru_cache(maxsize=64)
def _seal_for_signing(seal: bytes) -> tuple[asn1.SESeal, SesSeal]:
    """The parsed v4 seal (embedded as is: it dumps its own bytes) and its view.  Cached: a
    seal signs many documents, and this keeps a signature's cost to building ``TBS_Sign``
    and the SM2 operation."""
    view = parse_seal(seal)
    if view.version != VERSION_4:
        raise UnsupportedSesVersion("only v4 (GB/T 38540) seals can make new signatures")
    return asn1.SESeal.load(seal), view


def _require_sm2(key: SigningKey, certificate: bytes, who: str) -> None:
    if key.key_algorithm is not KeyAlgorithm.SM2:
        raise UnsupportedAlgorithm(f"the {who} key must be SM2, not {key.key_algorithm.value}")
    if _spki_of(certificate) != key.public_key_info.dump():
        raise SesError(f"the {who} key does not match the {who} certificate")


@functools.lru_cache(maxsize=64)
def _spki_of(certificate: bytes) -> bytes:
    """The SubjectPublicKeyInfo DER of a certificate (cached: the same few certificates
    sign over and over)."""
    return load_certificate(certificate, "certificate").public_key.dump()


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
        raise SesError(f"cannot encode the {what}: {first_line(exc)}") from None
