"""Tampering with any field of a seal or signature fails the layer that covers it, with the
reason (and ETSI sub-indication) a report should show — and leaves the other layers alone.

Two kinds of change: a *forgery* (bytes changed, the covering signature left as it was, or
the outer layer re-signed by a signer who changed the seal under it) and a *genuine but
wrong* object (the maker itself signed a seal that has expired or lists someone else).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from helpers.pki_fixtures import issue_leaf
from helpers.ses_fixtures import (
    DOCUMENT,
    PROPERTY_INFO,
    make_seal,
    make_signature,
    maker,
    sm2,
    swap_seal,
    timestamper,
)

from pki import ses
from pki.algorithms import SigningKey
from pki.asn1 import oids
from pki.asn1 import ses as asn1
from pki.cms import build_signed_data
from pki.sm2 import sm3

Layer, Reason = ses.Layer, ses.Reason


def reseal(seal_der: bytes, change: Callable[[dict], None], *, maker_signs: bool) -> bytes:
    """``seal_der`` with ``change`` applied to its SES_SealInfo (as native values); signed
    again by the maker if ``maker_signs``, else keeping the old (now wrong) signature."""
    seal = asn1.SESeal.load(seal_der)
    info = seal["e_seal_info"].native
    change(info)
    info_der = asn1.SESSealInfo(info).dump()
    value = maker().key.sign(info_der) if maker_signs else seal["signed_value"].native
    return asn1.SESeal(
        {
            "e_seal_info": asn1.SESSealInfo.load(info_der),
            "cert": seal["cert"],
            "sign_alg_id": seal["sign_alg_id"],
            "signed_value": value,
        }
    ).dump()


def forge(
    seal_der: bytes,
    *,
    signer_certificate: bytes | None = None,
    signer: SigningKey | None = None,
    data_hash: bytes | None = None,
    signing_time: datetime | None = None,
    time_stamp: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """An SES_Signature built without :func:`pki.ses.sign_ses`'s checks (which refuse, for
    instance, a signer the seal does not list) — what an attacker could assemble."""
    hierarchy = sm2()
    signer = signer or hierarchy.seal_key
    to_sign = asn1.TBSSign(
        {
            "version": 4,
            "eseal": asn1.SESeal.load(seal_der),
            "time_info": (signing_time or hierarchy.valid_at).replace(microsecond=0),
            "data_hash": data_hash or sm3(DOCUMENT),
            "property_info": PROPERTY_INFO,
        }
    )
    value = signer.sign(to_sign.dump())
    fields = {
        "to_sign": to_sign,
        "cert": signer_certificate or hierarchy.seal.dump(),
        "signature_alg_id": oids.SM2_SM3,
        "signature": value,
    }
    if time_stamp is not None:
        fields["time_stamp"] = time_stamp(value)
    return asn1.SESSignature(fields).dump()


def failures(der: bytes, data: bytes | None = DOCUMENT) -> dict[Layer, Reason]:
    check = ses.check_signature(ses.parse_signature(der), data)
    return {r.layer: r.reason for r in check.failures}


def _set_name(info: dict) -> None:
    info["property"]["name"] = info["property"]["name"] + "（伪）"


def _extend_validity(info: dict) -> None:
    info["property"]["valid_end"] += timedelta(days=3650)


def _other_certificate_list(info: dict) -> None:
    info["property"]["cert_list"] = [issue_leaf(sm2(), common_name="他人章")[0].dump()]


def _change_picture(info: dict) -> None:
    data = bytearray(info["picture"]["data"])
    data[-20] ^= 0xFF
    info["picture"]["data"] = bytes(data)


def _change_size(info: dict) -> None:
    info["picture"]["width"] = 400


def _change_es_id(info: dict) -> None:
    info["es_id"] = "44030000009999"


@pytest.mark.parametrize(
    "change",
    [_set_name, _extend_validity, _other_certificate_list, _change_picture, _change_size,
     _change_es_id],
)  # fmt: skip
def test_a_forged_seal_fails_the_maker_layer_only(change) -> None:
    """The signer re-signs TBS_Sign around a seal whose info changed: the maker signature is
    the one layer that catches it."""
    forged = reseal(make_seal(), change, maker_signs=False)
    if change is _other_certificate_list:  # the signer is no longer listed either
        assert failures(forge(forged)) == {
            Layer.MAKER_SIGNATURE: Reason.SIGNATURE_INVALID,
            Layer.CERT_LIST: Reason.NOT_IN_CERT_LIST,
        }
    else:
        assert failures(forge(forged)) == {Layer.MAKER_SIGNATURE: Reason.SIGNATURE_INVALID}


def test_a_seal_changed_inside_a_signature_fails_both_signatures() -> None:
    """Changed in place, with neither layer re-signed: both signatures cover the seal."""
    signature = make_signature()
    seal = ses.parse_signature(signature).seal.der
    forged_seal = reseal(seal, _set_name, maker_signs=False)
    assert len(forged_seal) == len(seal) + len("（伪）".encode())
    swapped = swap_seal(signature, forged_seal)
    assert failures(swapped) == {
        Layer.MAKER_SIGNATURE: Reason.SIGNATURE_INVALID,
        Layer.SIGNER_SIGNATURE: Reason.SIGNATURE_INVALID,
    }


def test_an_expired_seal_fails_the_validity_layer_only() -> None:
    hierarchy = sm2()
    seal = make_seal(valid_end=hierarchy.valid_at - timedelta(minutes=5))
    result = ses.check_signature(ses.parse_signature(forge(seal)), DOCUMENT)
    assert {r.layer: r.reason for r in result.failures} == {Layer.VALIDITY: Reason.SEAL_EXPIRED}
    assert Reason.SEAL_EXPIRED.sub_indication.name == "EXPIRED"


def test_a_seal_not_yet_valid_fails_the_validity_layer_only() -> None:
    hierarchy = sm2()
    seal = make_seal(
        valid_start=hierarchy.valid_at + timedelta(days=1),
        valid_end=hierarchy.valid_at + timedelta(days=30),
    )
    assert failures(forge(seal)) == {Layer.VALIDITY: Reason.SEAL_NOT_YET_VALID}
    assert Reason.SEAL_NOT_YET_VALID.sub_indication.name == "NOT_YET_VALID"


def test_the_time_stamp_decides_validity_over_the_claimed_time() -> None:
    """A signer who back-dates timeInfo into the window is caught by the time-stamp."""
    hierarchy = sm2()
    seal = make_seal(valid_end=hierarchy.valid_at)  # the TSA's clock is 1 minute later
    back_dated = forge(seal, signing_time=hierarchy.valid_at - timedelta(hours=1))
    assert failures(back_dated) == {}
    stamped = forge(
        seal, signing_time=hierarchy.valid_at - timedelta(hours=1), time_stamp=timestamper
    )
    assert failures(stamped) == {Layer.VALIDITY: Reason.SEAL_EXPIRED}


def test_a_seal_listing_someone_else_fails_the_cert_list_layer_only() -> None:
    other = issue_leaf(sm2(), common_name="他人章")[0].dump()
    seal = make_seal(signer_certificates=[other])
    failed = failures(forge(seal))
    assert failed == {Layer.CERT_LIST: Reason.NOT_IN_CERT_LIST}
    assert Reason.NOT_IN_CERT_LIST.sub_indication.name == "SIG_CONSTRAINTS_FAILURE"


def _digest_list(certificates: list[bytes], algorithm: str = "sm3") -> Callable[[dict], None]:
    def change(info: dict) -> None:
        info["property"]["cert_list_type"] = 2
        info["property"]["cert_list"] = [
            {"type": algorithm, "value": sm3(c) if algorithm == "sm3" else b"\x00" * 32}
            for c in certificates
        ]

    return change


def test_a_cert_list_of_digests_is_matched_by_digest() -> None:
    signer = sm2().seal.dump()
    seal = reseal(make_seal(), _digest_list([signer]), maker_signs=True)
    parsed = ses.parse_seal(seal)
    assert parsed.cert_list_type == 2 and parsed.cert_digests[0].value == sm3(signer)
    assert failures(forge(seal)) == {}
    assert failures(make_signature(seal)) == {}  # sign_ses accepts a signer listed by digest
    wrong = reseal(make_seal(), _digest_list([sm2().tsa.dump()]), maker_signs=True)
    assert failures(forge(wrong)) == {Layer.CERT_LIST: Reason.NOT_IN_CERT_LIST}
    unknown = reseal(make_seal(), _digest_list([signer], "md5"), maker_signs=True)
    assert failures(forge(unknown)) == {Layer.CERT_LIST: Reason.UNSUPPORTED_ALGORITHM}


def test_a_changed_data_hash_fails_the_hash_layer_only() -> None:
    forged = forge(make_seal(), data_hash=sm3(DOCUMENT + b" "))
    assert failures(forged) == {Layer.DATA_HASH: Reason.HASH_MISMATCH}
    assert Reason.HASH_MISMATCH.sub_indication.name == "HASH_FAILURE"
    assert failures(make_signature(), DOCUMENT + b" ") == {Layer.DATA_HASH: Reason.HASH_MISMATCH}


def test_a_swapped_signer_certificate_fails_the_signer_and_cert_list_layers() -> None:
    hierarchy = sm2()
    forged = forge(make_seal(), signer_certificate=hierarchy.tsa.dump())
    assert failures(forged) == {
        Layer.SIGNER_SIGNATURE: Reason.SIGNATURE_INVALID,
        Layer.CERT_LIST: Reason.NOT_IN_CERT_LIST,
    }


def test_a_signer_certificate_that_is_not_a_certificate_is_a_format_failure() -> None:
    forged = forge(make_seal(), signer_certificate=b"\x30\x03\x02\x01\x01")
    failed = failures(forged)
    assert failed[Layer.SIGNER_SIGNATURE] is Reason.MALFORMED
    assert Reason.MALFORMED.sub_indication.name == "FORMAT_FAILURE"


def test_a_foreign_signature_algorithm_is_reported_not_verified() -> None:
    der = make_signature()
    signature = ses.parse_signature(der)
    changed = replace(signature, signature_algorithm="1.2.840.10045.4.3.2")
    check = ses.check_signature(changed, DOCUMENT)
    assert {r.layer: r.reason for r in check.failures} == {
        Layer.SIGNER_SIGNATURE: Reason.UNSUPPORTED_ALGORITHM
    }


def test_a_time_stamp_over_another_value_fails_the_time_stamp_layer_only() -> None:
    forged = forge(make_seal(), time_stamp=lambda value: timestamper(value[:-1] + b"\x00"))
    assert failures(forged) == {Layer.TIME_STAMP: Reason.HASH_MISMATCH}


def test_a_time_stamp_with_a_broken_signature_fails_the_time_stamp_layer_only() -> None:
    def broken(value: bytes) -> bytes:
        token = bytearray(timestamper(value))
        token[-3] ^= 0x01  # inside the TSA's signature value, the token's last field
        return bytes(token)

    forged = forge(make_seal(), time_stamp=broken)
    assert failures(forged) == {Layer.TIME_STAMP: Reason.SIGNATURE_INVALID}


def test_a_signed_data_that_is_not_a_time_stamp_is_refused_as_one() -> None:
    hierarchy = sm2()

    def not_a_token(value: bytes) -> bytes:
        tsa = hierarchy.tsa
        return build_signed_data("gbt35275_data", sm3(value), hierarchy.tsa_key, tsa, [tsa]).dump()

    check = ses.check_signature(ses.parse_signature(forge(make_seal(), time_stamp=not_a_token)))
    assert {r.layer: r.reason for r in check.failures} == {Layer.TIME_STAMP: Reason.MALFORMED}
    assert "not TSTInfo" in check[Layer.TIME_STAMP].message
    assert not check.time_stamped
