"""Every SM2 signature in an SES structure verifies with the ``openssl`` CLI — ours and the
third-party samples' v4 layers — over the bytes our parser extracts *and* over bytes that
``openssl asn1parse`` extracts by itself, with offsets read from its own output.

``openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:1234567812345678`` is the
independent SM2 check (OpenSSL 3.0 needs the ID spelled out); the public keys come from
the certificates through ``openssl x509 -pubkey``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.pki_fixtures import SM2_DISTID, gmssl_verify, openssl
from helpers.ses_fixtures import make_signature, maker, sample_signatures, sm2, timestamper

from pki import ses

_ROW = re.compile(r"^\s*(\d+):d=\s*(\d+)\s+hl=\s*(\d+)\s+l=\s*(\d+)\s+(?:prim|cons):\s*(.*)$")


@dataclass(frozen=True)
class Row:
    """One line of ``openssl asn1parse`` output: where a TLV starts, its depth and sizes."""

    offset: int
    depth: int
    header_length: int
    length: int
    kind: str

    @property
    def end(self) -> int:
        return self.offset + self.header_length + self.length


def asn1parse(path: Path) -> list[Row]:
    result = openssl("asn1parse", "-inform", "DER", "-in", path)
    assert result.returncode == 0, result.stderr
    rows = []
    for line in result.stdout.splitlines():
        match = _ROW.match(line)
        assert match, line
        offset, depth, header, length, rest = match.groups()
        kind = re.split(r"\s{2,}|:", rest.strip())[0]  # "OCTET STRING      [HEX DUMP]:…"
        rows.append(Row(int(offset), int(depth), int(header), int(length), kind))
    return rows


def children(rows: list[Row], parent: Row) -> list[Row]:
    return [
        r for r in rows if r.depth == parent.depth + 1 and parent.offset < r.offset < parent.end
    ]


def extract_tlv(path: Path, row: Row, out: Path) -> bytes:
    """The whole TLV at ``row``, written by ``asn1parse -offset -length -out``."""
    result = openssl(
        "asn1parse", "-inform", "DER", "-in", path, "-noout",
        "-offset", str(row.offset), "-length", str(row.header_length + row.length), "-out", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


def extract_contents(path: Path, row: Row, out: Path) -> bytes:
    """The contents of the OCTET/BIT STRING at ``row``, by ``asn1parse -strparse -out``
    (for a BIT STRING openssl drops the unused-bits octet itself)."""
    result = openssl(
        "asn1parse", "-inform", "DER", "-in", path, "-noout", "-strparse", str(row.offset),
        "-out", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


def public_key_pem(certificate_der: Path, out: Path) -> Path:
    result = openssl("x509", "-inform", "DER", "-in", certificate_der, "-pubkey", "-noout")
    assert result.returncode == 0, result.stderr
    out.write_text(result.stdout)
    return out


def openssl_verifies(public_key: Path, message: Path, signature: Path) -> bool:
    result = openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", public_key, "-rawin", "-digest", "sm3",
        "-pkeyopt", SM2_DISTID, "-in", message, "-sigfile", signature,
    )  # fmt: skip
    return result.returncode == 0 and "Signature Verified Successfully" in result.stdout


@dataclass(frozen=True)
class Layer:
    """The three files ``pkeyutl`` needs for one signature layer."""

    public_key: Path
    message: Path
    signature: Path


def layers_by_asn1parse(der: bytes, directory: Path) -> dict[str, Layer]:
    """Maker and signer layers of a v4 SES_Signature, found with ``asn1parse`` alone.

    SES_Signature = {TBS_Sign, cert, signatureAlgID, signature, …};
    TBS_Sign = {version, SESeal, …}; SESeal = {SES_SealInfo, cert, signAlgID, signedValue}.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ses.der"
    path.write_bytes(der)
    rows = asn1parse(path)
    top = children(rows, rows[0])
    tbs, signer_cert, _, signer_sig = top[:4]
    seal = children(rows, tbs)[1]
    seal_info, maker_cert, _, maker_sig = children(rows, seal)
    assert (tbs.kind, seal.kind, seal_info.kind) == ("SEQUENCE",) * 3
    assert (signer_cert.kind, maker_cert.kind) == ("OCTET STRING",) * 2
    assert (signer_sig.kind, maker_sig.kind) == ("BIT STRING",) * 2
    found = {}
    for name, message, cert, signature in (
        ("maker", seal_info, maker_cert, maker_sig),
        ("signer", tbs, signer_cert, signer_sig),
    ):
        extract_tlv(path, message, directory / f"{name}.msg")
        extract_contents(path, cert, directory / f"{name}.cer")
        extract_contents(path, signature, directory / f"{name}.sig")
        found[name] = Layer(
            public_key_pem(directory / f"{name}.cer", directory / f"{name}.pem"),
            directory / f"{name}.msg",
            directory / f"{name}.sig",
        )
    return found


def layers_by_our_parser(der: bytes, directory: Path) -> dict[str, Layer]:
    """The same layers as :func:`pki.ses.parse_signature` extracts them."""
    directory.mkdir(parents=True, exist_ok=True)
    signature = ses.parse_signature(der)
    found = {}
    for name, message, cert, value in (
        ("maker", signature.seal.signed_bytes, signature.seal.maker_certificate,
         signature.seal.signature),
        ("signer", signature.signed_bytes, signature.signer_certificate, signature.signature),
    ):  # fmt: skip
        (directory / f"{name}.msg").write_bytes(message)
        (directory / f"{name}.cer").write_bytes(cert)
        (directory / f"{name}.sig").write_bytes(value)
        found[name] = Layer(
            public_key_pem(directory / f"{name}.cer", directory / f"{name}.pem"),
            directory / f"{name}.msg",
            directory / f"{name}.sig",
        )
    return found


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
