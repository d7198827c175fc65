"""SM2/SM3 against published vectors and against two implementations nobody here wrote.

Vectors: SM3 from GB/T 32905-2016 Appendix A; the SM2 signature from GM/T 0003.5-2012 /
GB/T 32918.5-2017 Appendix A (curve sm2p256v1, signer ID 1234567812345678, message
"message digest"), including its intermediate Z and e values.  The well-known example with
ID "ALICE123@YAHOO.COM" (GB/T 32918.2 Appendix A) is on a *test* curve, not sm2p256v1, so
custom IDs are checked against ``openssl pkeyutl -pkeyopt distid:…`` instead.

Cross-checks: OpenSSL 3 (C, ``distid`` option) and gmssl (pure Python), both directions,
always through the public ``pki.algorithms`` path the service uses.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from asn1crypto import algos, keys, pem
from gmssl import sm2 as gmssl_sm2
from hypothesis import given, settings
from hypothesis import strategies as st

from pki import algorithms, sm2
from pki.algorithms import KeyAlgorithm, SignatureScheme
from pki.errors import SignatureInvalid

DEFAULT_ID = b"1234567812345678"

# GM/T 0003.5-2012 Appendix A (= GB/T 32918.5-2017 Appendix A), curve sm2p256v1.
VECTOR_PUBLIC_POINT = bytes.fromhex(
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
VECTOR_MESSAGE = b"message digest"
VECTOR_Z = bytes.fromhex("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
VECTOR_E = bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
VECTOR_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
VECTOR_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA


def der_signature(r: int, s: int) -> bytes:
    return algos.DSASignature({"r": r, "s": s}).dump()


def raw_signature(der: bytes) -> str:
    """DER SEQUENCE {r, s} → the r||s hex string gmssl wants."""
    sig = algos.DSASignature.load(der).native
    return f"{sig['r']:064x}{sig['s']:064x}"


def sm2_spki(point: bytes) -> keys.PublicKeyInfo:
    return keys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": "ec", "parameters": ("named", "sm2p256v1")},
            "public_key": point,
        }
    )


def gmssl_signer(key: algorithms.SoftwareKey, with_private: bool = False) -> gmssl_sm2.CryptSM2:
    point = key.public_key_info["public_key"].native
    private = ""
    if with_private:
        pkcs8 = keys.PrivateKeyInfo.load(key.pkcs8_der())
        private = f"{pkcs8['private_key'].parsed['private_key'].native:064x}"
    crypt = gmssl_sm2.CryptSM2(private_key=private, public_key="00")
    # gmssl's constructor strips "04" with str.lstrip, which eats leading 0/4 digits of x.
    crypt.public_key = point[1:].hex()
    return crypt


def write_pem(path: Path, kind: str, der: bytes) -> Path:
    path.write_bytes(pem.armor(kind, der))
    return path


def openssl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], capture_output=True, check=False)


@pytest.fixture(scope="module")
def sm2_key() -> algorithms.SoftwareKey:
    return algorithms.generate(KeyAlgorithm.SM2)


@pytest.fixture
def openssl_files(tmp_path: Path, sm2_key: algorithms.SoftwareKey) -> dict[str, Path]:
    return {
        "key": write_pem(tmp_path / "key.pem", "PRIVATE KEY", sm2_key.pkcs8_der()),
        "pub": write_pem(tmp_path / "pub.pem", "PUBLIC KEY", sm2_key.public_key_info.dump()),
        "msg": tmp_path / "msg.bin",
        "sig": tmp_path / "sig.der",
    }


def openssl_verify(files: dict[str, Path], signer_id: bytes) -> bool:
    result = openssl(
        "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", str(files["pub"]),
        "-in", str(files["msg"]), "-sigfile", str(files["sig"]),
        "-pkeyopt", f"distid:{signer_id.decode()}",
    )  # fmt: skip
    return result.returncode == 0 and b"Verified Successfully" in result.stdout


def openssl_sign(files: dict[str, Path], signer_id: bytes) -> bytes:
    result = openssl(
        "pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", str(files["key"]),
        "-in", str(files["msg"]), "-out", str(files["sig"]),
        "-pkeyopt", f"distid:{signer_id.decode()}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return files["sig"].read_bytes()


# --- SM3 (GB/T 32905-2016 Appendix A) ---------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
    ],
)
def test_sm3_standard_vectors(message: bytes, expected: str) -> None:
    assert sm2.sm3(message).hex() == expected
    assert algorithms.digest("sm3", message).hex() == expected


# --- the GM/T 0003.5 signature example ----------------------------------------------------


def test_z_value_and_digest_match_the_published_example() -> None:
    spki = sm2_spki(VECTOR_PUBLIC_POINT)
    z = sm2.z_value(spki)
    assert z == VECTOR_Z
    assert sm2.z_value(spki.dump(), DEFAULT_ID) == VECTOR_Z
    assert sm2.z_value(sm2.load_public_key_der(spki.dump())) == VECTOR_Z
    assert sm2.sm3(z + VECTOR_MESSAGE) == VECTOR_E
    assert sm2.z_value(spki, b"ALICE123@YAHOO.COM") != VECTOR_Z


def test_published_signature_verifies() -> None:
    spki = sm2_spki(VECTOR_PUBLIC_POINT)
    public = sm2.load_public_key_der(spki.dump())
    signature = der_signature(VECTOR_R, VECTOR_S)
    sm2.verify_with_id(public, VECTOR_MESSAGE, signature, DEFAULT_ID)
    algorithms.verify(spki, VECTOR_MESSAGE, signature, SignatureScheme.SM2_SM3)
    with pytest.raises(SignatureInvalid):
        sm2.verify_with_id(public, VECTOR_MESSAGE, signature, b"ALICE123@YAHOO.COM")
    with pytest.raises(SignatureInvalid):
        algorithms.verify(spki, b"message digesT", signature, SignatureScheme.SM2_SM3)
    with pytest.raises(SignatureInvalid):
        algorithms.verify(
            spki, VECTOR_MESSAGE, der_signature(VECTOR_R, VECTOR_S ^ 1), SignatureScheme.SM2_SM3
        )


def test_signer_id_longer_than_entl_allows_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        sm2.z_value(sm2_spki(VECTOR_PUBLIC_POINT), b"x" * 8192)


# --- OpenSSL 3 (pkeyutl with distid) -----------------------------------------------------


@pytest.mark.parametrize("signer_id", [DEFAULT_ID, b"ALICE123@YAHOO.COM"])
def test_our_signature_verifies_in_openssl(
    sm2_key: algorithms.SoftwareKey, openssl_files: dict[str, Path], signer_id: bytes
) -> None:
    message = "电子印章 e-seal".encode()
    if signer_id == DEFAULT_ID:
        signature = sm2_key.sign(message)
    else:
        signature = sm2.sign_with_id(sm2_key._private, message, signer_id)
    openssl_files["msg"].write_bytes(message)
    openssl_files["sig"].write_bytes(signature)
    assert openssl_verify(openssl_files, signer_id)
    assert not openssl_verify(openssl_files, b"another-id")
    openssl_files["msg"].write_bytes(message + b".")
    assert not openssl_verify(openssl_files, signer_id)


@pytest.mark.parametrize("signer_id", [DEFAULT_ID, b"ALICE123@YAHOO.COM"])
def test_openssl_signature_verifies_here(
    sm2_key: algorithms.SoftwareKey, openssl_files: dict[str, Path], signer_id: bytes
) -> None:
    message = b"%PDF-1.7 byte range to seal"
    openssl_files["msg"].write_bytes(message)
    signature = openssl_sign(openssl_files, signer_id)
    public = sm2.load_public_key_der(sm2_key.public_key_info.dump())
    sm2.verify_with_id(public, message, signature, signer_id)
    if signer_id == DEFAULT_ID:
        algorithms.verify(sm2_key.public_key_info, message, signature, SignatureScheme.SM2_SM3)
    else:
        with pytest.raises(SignatureInvalid):
            algorithms.verify(sm2_key.public_key_info, message, signature, SignatureScheme.SM2_SM3)
    with pytest.raises(SignatureInvalid):
        sm2.verify_with_id(public, message + b"x", signature, signer_id)


# --- gmssl (pure Python; knows only the default ID) --------------------------------------


def test_our_signature_verifies_in_gmssl(sm2_key: algorithms.SoftwareKey) -> None:
    message = b"licence #2024-001"
    signature = raw_signature(sm2_key.sign(message))
    checker = gmssl_signer(sm2_key)
    assert checker.verify_with_sm3(signature, message)
    assert not checker.verify_with_sm3(signature, message + b"!")
    tampered = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert not checker.verify_with_sm3(tampered, message)


def test_gmssl_signature_verifies_here(sm2_key: algorithms.SoftwareKey) -> None:
    message = b"seal code 3301-0001"
    raw = gmssl_signer(sm2_key, with_private=True).sign_with_sm3(message)
    signature = der_signature(int(raw[:64], 16), int(raw[64:], 16))
    algorithms.verify(sm2_key.public_key_info, message, signature, SignatureScheme.SM2_SM3)
    with pytest.raises(SignatureInvalid):
        algorithms.verify(
            sm2_key.public_key_info, b"seal code 3301-0002", signature, SignatureScheme.SM2_SM3
        )


# --- custom signer ID round trip ---------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(message=st.binary(max_size=256), signer_id=st.binary(min_size=1, max_size=64))
def test_custom_id_round_trip(
    sm2_key: algorithms.SoftwareKey, message: bytes, signer_id: bytes
) -> None:
    private = sm2_key._private
    public = private.public_key()
    signature = sm2.sign_with_id(private, message, signer_id)
    sm2.verify_with_id(public, message, signature, signer_id)
    with pytest.raises(SignatureInvalid):
        sm2.verify_with_id(public, message + b"\0", signature, signer_id)
    with pytest.raises(SignatureInvalid):
        sm2.verify_with_id(public, message, signature, signer_id + b"\0")


def test_default_id_signatures_interoperate_with_sign_with_id(
    sm2_key: algorithms.SoftwareKey,
) -> None:
    message = b"same ID, two code paths"
    public = sm2.load_public_key_der(sm2_key.public_key_info.dump())
    sm2.verify_with_id(public, message, sm2_key.sign(message), DEFAULT_ID)
    signature = sm2.sign_with_id(sm2_key._private, message, DEFAULT_ID)
    algorithms.verify(sm2_key.public_key_info, message, signature, SignatureScheme.SM2_SM3)


@pytest.mark.parametrize("garbage", [b"", b"\x30\x00", b"\x00" * 72, b"\x30\x06\x02\x01\x00" * 2])
def test_malformed_signature_is_invalid_not_a_crash(
    sm2_key: algorithms.SoftwareKey, garbage: bytes
) -> None:
    public = sm2.load_public_key_der(sm2_key.public_key_info.dump())
    with pytest.raises(SignatureInvalid):
        sm2.verify_with_id(public, b"m", garbage, b"id")
    with pytest.raises(SignatureInvalid):
        algorithms.verify(sm2_key.public_key_info, b"m", garbage, SignatureScheme.SM2_SM3)
