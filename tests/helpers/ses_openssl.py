"""OpenSSL as an independent reader of our SES DER: asn1parse layers and SM2 signature checks.

Our SES parser is checked against what ``openssl asn1parse`` sees in the same bytes, and
every SM2 signature against ``openssl pkeyutl``, so a bug shared by writer and reader
cannot hide."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from helpers.pki_fixtures import SM2_DISTID, openssl
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
    """Every TLV of the DER file as ``openssl asn1parse`` lists it."""
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
    """The rows directly inside ``parent``."""
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
    """The certificate's public key as PEM, extracted by ``openssl x509 -pubkey``."""
    result = openssl("x509", "-inform", "DER", "-in", certificate_der, "-pubkey", "-noout")
    assert result.returncode == 0, result.stderr
    out.write_text(result.stdout)
    return out


def openssl_verifies(public_key: Path, message: Path, signature: Path) -> bool:
    """``openssl pkeyutl -verify`` of an SM2/SM3 signature with the default signer ID."""
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
