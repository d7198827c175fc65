"""GM/T 0031-2014 (v1) signatures made as the standard says verify on every layer, including
the variants real v1 issuers write (GeneralizedTime dates, OCTET STRING timeInfo/dataHash,
ISO 8601 or GeneralizedTime text in timeInfo, a non-certificate in certList).

n.ofd, the only v1 sample, has a signer signature that verifies under no plain SM2/SM3
reading; these structures are built here with the declarations of ``pki.asn1.ses`` and
signed with real SM2 keys, so the v1 signer layer is shown to pass when it should.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from asn1crypto import core
from helpers.ses_fixtures import DOCUMENT, PROPERTY_INFO, maker, seal_png, sm2

from pki import ses
from pki.asn1 import oids
from pki.asn1 import ses as asn1
from pki.sm2 import sm3


def _v1_seal(*, generalized: bool = False, extra_entry: bool = False) -> asn1.SESealV1:
    hierarchy = sm2()
    start = hierarchy.not_before

    def when(moment: datetime) -> dict:
        return {"general_time" if generalized else "utc_time": moment}

    entries = [core.OctetString(hierarchy.seal.dump())]
    if extra_entry:
        entries.insert(0, core.IA5String("1"))  # as n.ofd does
    info = asn1.SESSealInfoV1(
        {
            "header": {"id": "ES", "version": 1, "vid": "sealsvc-test"},
            "es_id": "44030000000001",
            "property": {
                "type": 1,
                "name": "深圳市市场监督管理局行政审批专用章",
                "cert_list": [core.Any(e) for e in entries],
                "create_date": when(start),
                "valid_start": when(start),
                "valid_end": when(start + timedelta(days=365)),
            },
            "picture": {"type": "PNG", "data": seal_png(), "width": 40, "height": 40},
        }
    )
    info = asn1.SESSealInfoV1.load(info.dump())
    maker_certificate = maker().certificate.dump()
    to_sign = asn1.SealSignedPartV1(
        {"seal_info": info, "cert": maker_certificate, "signature_algorithm": oids.SM2_SM3}
    )
    return asn1.SESealV1(
        {
            "eseal_info": info,
            "sign_info": {
                "cert": maker_certificate,
                "signature_algorithm": oids.SM2_SM3,
                "sign_data": maker().key.sign(to_sign.dump()),
            },
        }
    )


def _v1_signature(seal: asn1.SESealV1, time_info: dict, data_hash: dict) -> bytes:
    hierarchy = sm2()
    to_sign = asn1.TBSSignV1(
        {
            "version": 1,
            "eseal": asn1.SESealV1.load(seal.dump()),
            "time_info": time_info,
            "data_hash": data_hash,
            "property_info": PROPERTY_INFO,
            "cert": hierarchy.seal.dump(),
            "signature_algorithm": oids.SM2_SM3,
        }
    )
    to_sign = asn1.TBSSignV1.load(to_sign.dump())
    return asn1.SESSignatureV1(
        {"to_sign": to_sign, "signature": hierarchy.seal_key.sign(to_sign.dump())}
    ).dump()


def _text(moment: datetime, style: str) -> bytes:
    if style == "iso":
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z").encode()
    if style == "ofd":  # the SignatureDateTime style of Signature.xml
        return moment.strftime("%Y-%m-%d %H:%M:%S").encode()
    return moment.strftime("%Y%m%d%H%M%SZ").encode()


@pytest.mark.parametrize("generalized", [False, True], ids=["UTCTime", "GeneralizedTime"])
@pytest.mark.parametrize("style", ["iso", "generalized", "ofd"])
@pytest.mark.parametrize("as_octets", [False, True], ids=["BIT STRING", "OCTET STRING"])
def test_a_v1_signature_made_to_the_standard_passes_every_layer(
    generalized: bool, style: str, as_octets: bool
) -> None:
    hierarchy = sm2()
    at = hierarchy.valid_at.replace(microsecond=0)
    choice = "octets" if as_octets else "bits"
    der = _v1_signature(
        _v1_seal(generalized=generalized),
        {choice: _text(at, style)},
        {choice: sm3(DOCUMENT)},
    )
    signature = ses.parse_signature(der)
    assert signature.version == signature.seal.version == 1
    assert signature.der == der
    assert signature.signing_time == at
    assert signature.seal.valid_start == hierarchy.not_before
    check = ses.check_signature(signature, DOCUMENT)
    assert check.ok, check.failures
    assert [r.status for r in check.layers[:5]] == [ses.LayerStatus.PASSED] * 5


def test_a_v1_cert_list_entry_that_is_not_a_certificate_is_skipped() -> None:
    seal = _v1_seal(extra_entry=True)
    der = _v1_signature(seal, {"bits": b"2026-01-01T00:00:00Z"}, {"bits": sm3(DOCUMENT)})
    signature = ses.parse_signature(der)
    assert signature.seal.certificates == (sm2().seal.dump(),)
    assert ses.check_signature(signature)[ses.Layer.CERT_LIST].passed


def test_a_v1_time_in_no_known_format_makes_validity_unknown_not_a_crash() -> None:
    der = _v1_signature(_v1_seal(), {"bits": b"\x01\x02yesterday"}, {"bits": sm3(DOCUMENT)})
    signature = ses.parse_signature(der)
    assert signature.signing_time is None
    assert signature.time_info == b"\x01\x02yesterday"
    result = ses.check_signature(signature)[ses.Layer.VALIDITY]
    assert result.reason is ses.Reason.SIGNING_TIME_UNKNOWN


def test_a_v1_seal_maker_signature_over_other_bytes_fails() -> None:
    seal = _v1_seal()
    forged = asn1.SESealV1(
        {
            "eseal_info": seal["eseal_info"],
            "sign_info": {
                "cert": seal["sign_info"]["cert"],
                "signature_algorithm": oids.SM2_SM3,
                # signed over the info alone: not what GM/T 0031 says the maker signs
                "sign_data": maker().key.sign(seal["eseal_info"].dump()),
            },
        }
    )
    assert ses.check_seal(ses.parse_seal(seal.dump())).passed
    assert ses.check_seal(ses.parse_seal(forged.dump())).reason is ses.Reason.SIGNATURE_INVALID


def test_v1_dates_read_as_utc() -> None:
    seal = ses.parse_seal(_v1_seal().dump())
    assert seal.created == sm2().not_before
    assert seal.created.utcoffset() == timedelta(0)
