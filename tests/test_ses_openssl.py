"""Every SM2 signature in an SES structure verifies with the ``openssl`` CLI — ours and the
third-party samples' v4 layers — over the bytes our parser extracts *and* over bytes that
``openssl asn1parse`` extracts by itself, with offsets read from its own output.

``openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:1234567812345678`` is the
independent SM2 check (OpenSSL 3.0 needs the ID spelled out); the public keys come from
the certificates through ``openssl x509 -pubkey``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.pki_fixtures import gmssl_verify
from helpers.ses_fixtures import make_signature, maker, sample_signatures, sm2, timestamper
from helpers.ses_openssl import (
    layers_by_asn1parse,
    layers_by_our_parser,
    openssl_verifies,
)

from pki import ses


def _ours() -> bytes:
    return make_signature(timestamper=timestamper)


@pytest.mark.parametrize("extract", [layers_by_our_parser, layers_by_asn1parse])
def test_openssl_verifies_both_layers_of_our_signature(extract, tmp_path: Path) -> None:
    der = _ours()
    for name, layer in extract(der, tmp_path).items():
        assert openssl_verifies(layer.public_key, layer.message, layer.signature), name


def test_both_extractions_agree_byte_for_byte(tmp_path: Path) -> None:
    der = _ours()
    ours = layers_by_our_parser(der, tmp_path / "ours")
    theirs = layers_by_asn1parse(der, tmp_path / "openssl")
    for name in ("maker", "signer"):
        for part in ("message", "signature", "public_key"):
            assert (
                getattr(ours[name], part).read_bytes() == getattr(theirs[name], part).read_bytes()
            )


def test_openssl_rejects_a_tampered_message_and_a_tampered_value(tmp_path: Path) -> None:
    layers = layers_by_asn1parse(_ours(), tmp_path)
    for name, layer in layers.items():
        message = bytearray(layer.message.read_bytes())
        message[len(message) // 2] ^= 0x01
        tampered = tmp_path / f"{name}.tampered"
        tampered.write_bytes(bytes(message))
        assert not openssl_verifies(layer.public_key, tampered, layer.signature), name
        value = bytearray(layer.signature.read_bytes())
        value[-1] ^= 0x01
        bad_value = tmp_path / f"{name}.badsig"
        bad_value.write_bytes(bytes(value))
        assert not openssl_verifies(layer.public_key, layer.message, bad_value), name
        # and the other layer's key does not fit this layer
        other = layers["signer" if name == "maker" else "maker"]
        assert not openssl_verifies(other.public_key, layer.message, layer.signature), name


_V4_SAMPLES = [
    s for s in sample_signatures() if s.ofd in ("v4signed.ofd", "SESV4SignDoc.ofd", "h.ofd")
]


@pytest.mark.parametrize("sample", _V4_SAMPLES, ids=lambda s: s.label)
def test_openssl_verifies_the_v4_samples_layers_as_asn1parse_finds_them(
    sample, tmp_path: Path
) -> None:
    layers = layers_by_asn1parse(sample.signed_value, tmp_path / "openssl")
    for name, layer in layers.items():
        assert openssl_verifies(layer.public_key, layer.message, layer.signature), name
    ours = layers_by_our_parser(sample.signed_value, tmp_path / "ours")
    for name in ("maker", "signer"):
        assert ours[name].message.read_bytes() == layers[name].message.read_bytes()
        assert ours[name].signature.read_bytes() == layers[name].signature.read_bytes()


def test_gmssl_also_verifies_both_layers_of_our_signature() -> None:
    """A second independent SM2 implementation (pure-Python gmssl), over our extraction."""
    signature = ses.parse_signature(_ours())
    hierarchy = sm2()
    assert gmssl_verify(
        maker().certificate.public_key, signature.seal.signed_bytes, signature.seal.signature
    )
    assert gmssl_verify(hierarchy.seal.public_key, signature.signed_bytes, signature.signature)
    assert not gmssl_verify(
        hierarchy.seal.public_key, signature.signed_bytes + b"\x00", signature.signature
    )


_SES_SAMPLES = [s for s in sample_signatures() if s.ofd != "testImageNotFound.ofd"]


@pytest.mark.parametrize("sample", _SES_SAMPLES, ids=lambda s: s.label)
def test_openssl_agrees_with_us_on_every_samples_layers_over_our_extraction(
    sample, tmp_path: Path
) -> None:
    """v1 included: openssl accepts n.ofd's maker signature over the SEQUENCE {sealInfo,
    cert, signatureAlgorithm} we rebuild from the received parts, and rejects its signer
    signature over TBS_Sign, as our check does."""
    layers = layers_by_our_parser(sample.signed_value, tmp_path)
    check = ses.check_signature(ses.parse_signature(sample.signed_value))
    for name, layer in (
        ("maker", ses.Layer.MAKER_SIGNATURE),
        ("signer", ses.Layer.SIGNER_SIGNATURE),
    ):
        files = layers[name]
        assert (
            openssl_verifies(files.public_key, files.message, files.signature)
            is check[layer].passed
        ), name
