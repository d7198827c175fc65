"""pki.ses: seals and signatures we make read back field for field, byte for byte, and
check layer by layer; bad input to the builders is a clear SesError, never a bad object."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import core
from helpers.pki_fixtures import issue_leaf
from helpers.ses_fixtures import (
    DOCUMENT,
    PROPERTY_INFO,
    make_seal,
    make_signature,
    maker,
    seal_png,
    sm2,
    swap_seal,
    timestamper,
)

from pki import algorithms, ses
from pki.algorithms import KeyAlgorithm, SignatureScheme
from pki.asn1 import oids
from pki.asn1 import ses as asn1
from pki.errors import PkiError, UnsupportedAlgorithm
from pki.sm2 import sm3


def test_a_seal_reads_back_every_field_we_wrote() -> None:
    hierarchy = sm2()
    seal = ses.parse_seal(make_seal())
    assert seal.version == 4
    assert seal.vid == ses.DEFAULT_VID
    assert seal.es_id == "44030000000001"
    assert seal.seal_type == 1
    assert seal.name == "深圳市市场监督管理局行政审批专用章"
    assert seal.cert_list_type == 1
    assert seal.certificates == (hierarchy.seal.dump(),)
    assert seal.cert_digests == ()
    assert seal.valid_start == hierarchy.not_before
    assert seal.valid_end == hierarchy.not_before + timedelta(days=365)
    assert seal.picture == ses.SealPicture("PNG", seal_png(), 40, 40)
    assert seal.picture.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert seal.maker_certificate == maker().certificate.dump()
    assert seal.signature_algorithm == oids.SM2_SM3
    assert ses.check_seal(seal).passed


def test_the_maker_signs_exactly_the_der_of_the_seal_info() -> None:
    der = make_seal()
    seal = ses.parse_seal(der)
    info = asn1.SESeal.load(der)["e_seal_info"]
    assert seal.signed_bytes == info.dump() == info.dump(force=True)  # DER, and what we sign
    algorithms.verify(
        maker().key.public_key_info, seal.signed_bytes, seal.signature, SignatureScheme.SM2_SM3
    )


def test_a_signature_reads_back_and_every_layer_passes() -> None:
    hierarchy = sm2()
    seal_der = make_seal()
    der = make_signature(seal_der)
    signature = ses.parse_signature(der)
    assert signature.der == der
    assert signature.version == 4
    assert signature.seal.der == seal_der  # embedded byte for byte
    assert signature.signer_certificate == hierarchy.seal.dump()
    assert signature.signing_time == hierarchy.valid_at.replace(microsecond=0)
    assert signature.data_hash == sm3(DOCUMENT)
    assert signature.property_info == PROPERTY_INFO
    assert signature.time_stamp_token is None
    assert signature.signed_bytes == asn1.SESSignature.load(der)["to_sign"].dump()
    check = ses.check_signature(signature, DOCUMENT)
    assert check.ok
    assert [r.status for r in check.layers] == [ses.LayerStatus.PASSED] * 5 + [
        ses.LayerStatus.NOT_CHECKED
    ]
    assert [r.layer for r in check.layers] == list(ses.Layer)
    assert check.signing_time == signature.signing_time and not check.time_stamped


def test_without_data_the_hash_layer_is_not_checked_rather_than_passed() -> None:
    check = ses.check_signature(ses.parse_signature(make_signature()))
    assert check[ses.Layer.DATA_HASH].status is ses.LayerStatus.NOT_CHECKED
    assert check.ok


def test_a_time_stamped_signature_uses_the_tokens_time_for_validity() -> None:
    hierarchy = sm2()
    der = make_signature(timestamper=timestamper)
    signature = ses.parse_signature(der)
    assert signature.time_stamp_token is not None
    check = ses.check_signature(signature, DOCUMENT)
    assert check.ok, check.failures
    assert check[ses.Layer.TIME_STAMP].passed
    assert check.time_stamped
    assert check.time_stamp_certificate == hierarchy.tsa.dump()  # for the engine to validate
    assert check.signing_time == hierarchy.valid_at + timedelta(minutes=1)


def test_a_time_stamp_over_other_bytes_fails_the_time_stamp_layer_only() -> None:
    der = make_signature(timestamper=lambda value: timestamper(value + b"x"))
    check = ses.check_signature(ses.parse_signature(der), DOCUMENT)
    assert [r.layer for r in check.failures] == [ses.Layer.TIME_STAMP]
    assert check[ses.Layer.TIME_STAMP].reason is ses.Reason.HASH_MISMATCH
    assert not check.time_stamped  # the claimed timeInfo decided validity


def test_a_time_stamp_that_is_not_a_token_is_reported_malformed() -> None:
    der = make_signature(timestamper=lambda value: b"\x30\x03\x02\x01\x01")
    check = ses.check_signature(ses.parse_signature(der), DOCUMENT)
    assert check[ses.Layer.TIME_STAMP].status is ses.LayerStatus.FAILED
    assert check[ses.Layer.TIME_STAMP].reason in (
        ses.Reason.MALFORMED,
        ses.Reason.SIGNATURE_INVALID,
    )


def test_seal_extension_data_round_trips() -> None:
    extension = ses.SesExtension("1.2.156.10197.6.7.2.2.1", False, b"2.1")
    seal = ses.parse_seal(make_seal(ext_datas=[extension]))
    assert seal.ext_datas == (extension,)
    assert ses.check_seal(seal).passed


def test_a_seal_is_signed_once_and_reused_by_many_signatures() -> None:
    seal_der = make_seal()
    first, second = (make_signature(seal_der, data_hash=sm3(bytes([i]))) for i in range(2))
    assert ses.parse_signature(first).seal.der == ses.parse_signature(second).seal.der


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"signer_certificates": []}, "at least one signer certificate"),
        ({"es_id": "印章"}, "esID must be ASCII"),
        ({"vid": "厂商"}, "vid must be ASCII"),
        ({"valid_end": datetime(2000, 1, 1, tzinfo=UTC)}, "must end after it starts"),
        ({"valid_start": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"picture": ses.SealPicture("PNG", b"x", 0, 40)}, "positive millimetres"),
        ({"signer_certificates": [b"not a certificate"]}, "malformed signer certificate"),
        ({"maker_certificate": sm2().seal.dump()}, "does not match the seal maker certificate"),
    ],
)
def test_make_seal_refuses_what_the_structure_cannot_carry(overrides: dict, message: str) -> None:
    with pytest.raises(ses.SesError, match=message):
        make_seal(**overrides)


def test_make_seal_refuses_a_non_sm2_maker() -> None:
    rsa = algorithms.generate(KeyAlgorithm.P256)
    with pytest.raises(UnsupportedAlgorithm, match="must be SM2"):
        make_seal(maker=rsa)


def test_sign_ses_refuses_a_signer_the_seal_does_not_list() -> None:
    other, other_key = issue_leaf(sm2(), common_name="深圳市某局合同专用章")
    with pytest.raises(ses.SesError, match="not in the seal's certList"):
        make_signature(signer_certificate=other.dump(), signer=other_key)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"data_hash": b"\x00" * 31}, "32 bytes"),
        ({"property_info": "/文档/Signature.xml"}, "propertyInfo must be ASCII"),
        ({"signing_time": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"signer": sm2().tsa_key}, "does not match the signer certificate"),
        ({"seal": b"\x30\x00"}, "unsupported SES version"),
        ({"seal": b"junk"}, "malformed SESeal"),
    ],
)
def test_sign_ses_refuses_bad_input(overrides: dict, message: str) -> None:
    with pytest.raises(ses.SesError, match=message):
        make_signature(**overrides)


def _header_variant(der: bytes, *, id_: str = "ES", version: int = 4) -> bytes:
    """``der`` (an SESeal) with another header, re-signed so only the header differs."""
    seal = asn1.SESeal.load(der)
    info = seal["e_seal_info"]
    header = asn1.SESHeader({"id": id_, "version": version, "vid": "sealsvc"})
    changed = asn1.SESSealInfo(
        {
            "header": header,
            "es_id": info["es_id"],
            "property": info["property"],
            "picture": info["picture"],
        }
    )
    return asn1.SESeal(
        {
            "e_seal_info": changed,
            "cert": seal["cert"],
            "sign_alg_id": seal["sign_alg_id"],
            "signed_value": maker().key.sign(changed.dump()),
        }
    ).dump()


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ({"version": 5}, "unsupported SES version 5"),
        ({"version": 1}, "unsupported SES version 1 in a v4-shaped"),
        ({"id_": "EX"}, "header id 'EX'"),
    ],
)
def test_other_versions_and_ids_are_unsupported_not_crashes(variant: dict, message: str) -> None:
    der = _header_variant(make_seal(), **variant)
    with pytest.raises(ses.UnsupportedSesVersion, match=message):
        ses.parse_seal(der)


def test_a_signature_around_a_v5_seal_is_unsupported() -> None:
    seal = _header_variant(make_seal(), version=5)
    with pytest.raises(ses.UnsupportedSesVersion, match="unsupported SES version 5"):
        ses.parse_signature(swap_seal(make_signature(), seal))
    with pytest.raises(ses.UnsupportedSesVersion):
        make_signature(seal)


@pytest.mark.parametrize("count", [0, 1, 3, 6])
def test_a_structure_of_another_shape_is_unsupported(count: int) -> None:
    der = core.Sequence(contents=core.Integer(1).dump() * count).dump()
    with pytest.raises(ses.UnsupportedSesVersion, match=f"of {count} fields"):
        ses.parse_seal(der)
    if count not in (4, 5):
        with pytest.raises(ses.UnsupportedSesVersion, match=f"of {count} fields"):
            ses.parse_signature(der)


@pytest.mark.parametrize(
    "bad",
    [b"", b"\x30", b"\x30\x04\x02\x01\x01", pytest.param(None, id="seal-cut-short")],
)
def test_errors_are_pki_errors_with_one_line_messages(bad: bytes | None) -> None:
    with pytest.raises(PkiError) as info:
        ses.parse_signature(make_seal()[:-5] if bad is None else bad)
    assert "\n" not in str(info.value)


def test_the_view_repr_shows_no_bytes() -> None:
    signature = ses.parse_signature(make_signature())
    assert repr(signature) == "SesSignature(v4, seal '44030000000001')"
    assert repr(signature.seal) == f"SesSeal(v4, '44030000000001', {signature.seal.name!r})"
