"""``pki.algorithms`` for RSA and ECDSA P-256, checked against ``openssl`` both ways, and
the guard rails that keep one family's key from "verifying" another family's signature."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from asn1crypto import algos, keys, pem
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pki import algorithms
from pki.algorithms import KeyAlgorithm, SignatureScheme
from pki.errors import SignatureInvalid, UnsupportedAlgorithm

MESSAGE = "营业执照 licence 91330100".encode()

# openssl dgst options for each scheme (RSASSA-PSS: SHA-256, MGF1-SHA-256, salt 32).
OPENSSL_OPTIONS = {
    SignatureScheme.RSA_PKCS1V15_SHA256: [],
    SignatureScheme.RSA_PSS_SHA256: [
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:32",
        "-sigopt",
        "rsa_mgf1_md:sha256",
    ],
    SignatureScheme.ECDSA_SHA256: [],
}
CASES = [
    (KeyAlgorithm.RSA2048, SignatureScheme.RSA_PKCS1V15_SHA256),
    (KeyAlgorithm.RSA2048, SignatureScheme.RSA_PSS_SHA256),
    (KeyAlgorithm.P256, SignatureScheme.ECDSA_SHA256),
]


@pytest.fixture(scope="module")
def keys_by_alg() -> dict[KeyAlgorithm, algorithms.SoftwareKey]:
    return {alg: algorithms.generate(alg) for alg in KeyAlgorithm}


def openssl_dgst(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", "dgst", "-sha256", *args], capture_output=True, check=False)


def pem_files(tmp_path: Path, key: algorithms.SoftwareKey) -> tuple[Path, Path]:
    private = tmp_path / "key.pem"
    public = tmp_path / "pub.pem"
    private.write_bytes(pem.armor("PRIVATE KEY", key.pkcs8_der()))
    public.write_bytes(pem.armor("PUBLIC KEY", key.public_key_info.dump()))
    return private, public


@pytest.mark.parametrize(("alg", "scheme"), CASES)
def test_our_signature_verifies_in_openssl(
    tmp_path: Path,
    keys_by_alg: dict[KeyAlgorithm, algorithms.SoftwareKey],
    alg: KeyAlgorithm,
    scheme: SignatureScheme,
) -> None:
    key = keys_by_alg[alg]
    _, public = pem_files(tmp_path, key)
    message, signature = tmp_path / "msg", tmp_path / "sig"
    message.write_bytes(MESSAGE)
    signature.write_bytes(key.sign(MESSAGE, scheme))
    options = OPENSSL_OPTIONS[scheme]
    ok = openssl_dgst("-verify", str(public), *options, "-signature", str(signature), str(message))
    assert ok.returncode == 0, ok.stderr
    message.write_bytes(MESSAGE + b" ")
    bad = openssl_dgst("-verify", str(public), *options, "-signature", str(signature), str(message))
    assert bad.returncode == 1


@pytest.mark.parametrize(("alg", "scheme"), CASES)
def test_openssl_signature_verifies_here(
    tmp_path: Path,
    keys_by_alg: dict[KeyAlgorithm, algorithms.SoftwareKey],
    alg: KeyAlgorithm,
    scheme: SignatureScheme,
) -> None:
    key = keys_by_alg[alg]
    private, _ = pem_files(tmp_path, key)
    message, signature = tmp_path / "msg", tmp_path / "sig"
    message.write_bytes(MESSAGE)
    made = openssl_dgst(
        "-sign", str(private), *OPENSSL_OPTIONS[scheme], "-out", str(signature), str(message)
    )
    assert made.returncode == 0, made.stderr
    sig = signature.read_bytes()
    algorithms.verify(key.public_key_info, MESSAGE, sig, scheme)
    algorithms.verify(key.public_key_info, MESSAGE, sig, scheme.algorithm_identifier())
    with pytest.raises(SignatureInvalid):
        algorithms.verify(key.public_key_info, MESSAGE + b"!", sig, scheme)
    tampered = sig[:-1] + bytes([sig[-1] ^ 0x01])
    with pytest.raises(SignatureInvalid):
        algorithms.verify(key.public_key_info, MESSAGE, tampered, scheme)


@pytest.mark.parametrize(
    ("key_alg", "scheme"),
    [
        (KeyAlgorithm.RSA2048, SignatureScheme.SM2_SM3),
        (KeyAlgorithm.RSA2048, SignatureScheme.ECDSA_SHA256),
        (KeyAlgorithm.P256, SignatureScheme.SM2_SM3),
        (KeyAlgorithm.P256, SignatureScheme.RSA_PKCS1V15_SHA256),
        (KeyAlgorithm.P256, SignatureScheme.RSA_PSS_SHA256),
        (KeyAlgorithm.SM2, SignatureScheme.ECDSA_SHA256),
        (KeyAlgorithm.SM2, SignatureScheme.RSA_PKCS1V15_SHA256),
    ],
)
def test_cross_family_misuse_is_refused(
    keys_by_alg: dict[KeyAlgorithm, algorithms.SoftwareKey],
    key_alg: KeyAlgorithm,
    scheme: SignatureScheme,
) -> None:
    key = keys_by_alg[key_alg]
    with pytest.raises(UnsupportedAlgorithm, match=f"{key_alg} key cannot sign with {scheme}"):
        key.sign(MESSAGE, scheme)
    # A genuine signature of the key's own family, presented under a foreign identifier;
    # verifiers are cached per key and scheme, so the refusal must hold on every call, also
    # after the same key has verified under its own scheme.
    signature = key.sign(MESSAGE)
    for _ in range(2):
        with pytest.raises(SignatureInvalid):
            algorithms.verify(key.public_key_info, MESSAGE, signature, scheme)
        with pytest.raises(SignatureInvalid):
            algorithms.verify(
                key.public_key_info, MESSAGE, signature, scheme.algorithm_identifier()
            )
        algorithms.verify(key.public_key_info, MESSAGE, signature, key.key_algorithm.default_scheme)


def test_signature_of_another_key_of_the_same_family_is_invalid(
    keys_by_alg: dict[KeyAlgorithm, algorithms.SoftwareKey],
) -> None:
    signature = keys_by_alg[KeyAlgorithm.RSA2048].sign(MESSAGE)
    other = keys_by_alg[KeyAlgorithm.RSA3072]
    with pytest.raises(SignatureInvalid):
        algorithms.verify(
            other.public_key_info, MESSAGE, signature, SignatureScheme.RSA_PKCS1V15_SHA256
        )


def test_unknown_or_unsupported_algorithm_identifiers() -> None:
    sha1_rsa = algos.SignedDigestAlgorithm({"algorithm": "sha1_rsa"})
    with pytest.raises(UnsupportedAlgorithm):
        algorithms.scheme_for(sha1_rsa)
    unknown = algos.SignedDigestAlgorithm({"algorithm": "1.2.3.4.5"})
    with pytest.raises(UnsupportedAlgorithm, match=r"1\.2\.3\.4\.5"):
        algorithms.scheme_for(unknown)
    pss_sha512 = algos.SignedDigestAlgorithm(
        {
            "algorithm": "rsassa_pss",
            "parameters": {
                "hash_algorithm": {"algorithm": "sha512"},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha512"}},
                "salt_length": 64,
            },
        }
    )
    with pytest.raises(UnsupportedAlgorithm):
        algorithms.scheme_for(pss_sha512)
    with pytest.raises(UnsupportedAlgorithm):
        algorithms.digest("md5", b"")


@pytest.mark.parametrize("scheme", list(SignatureScheme))
def test_algorithm_identifier_round_trips_through_der(scheme: SignatureScheme) -> None:
    der = scheme.algorithm_identifier().dump()
    assert algorithms.scheme_for(algos.SignedDigestAlgorithm.load(der)) is scheme


def test_sm2_identifier_is_the_gm_oid() -> None:
    algid = SignatureScheme.SM2_SM3.algorithm_identifier()
    assert algid["algorithm"].dotted == "1.2.156.10197.1.501"
    assert SignatureScheme.SM2_SM3.digest_algorithm == "sm3"


@pytest.mark.parametrize("alg", list(KeyAlgorithm))
def test_pkcs8_round_trip_keeps_the_key(
    keys_by_alg: dict[KeyAlgorithm, algorithms.SoftwareKey], alg: KeyAlgorithm
) -> None:
    key = keys_by_alg[alg]
    again = algorithms.load_pkcs8(alg.value, key.pkcs8_der())
    assert again.public_key_info.dump() == key.public_key_info.dump()
    algorithms.verify(key.public_key_info, MESSAGE, again.sign(MESSAGE), alg.default_scheme)
    assert repr(again) == f"SoftwareKey({alg.value})"
    assert isinstance(again, algorithms.SigningKey)


@pytest.mark.parametrize("name", ["sha256", "sha384", "sha512", "sm3"])
def test_digests_match_openssl(name: str) -> None:
    out = subprocess.run(
        ["openssl", "dgst", f"-{name}", "-r"], input=MESSAGE, capture_output=True, check=True
    ).stdout
    assert algorithms.digest(name, MESSAGE).hex() == out.split()[0].decode()


def test_keys_are_shared_by_threads(
    keys_by_alg: dict[KeyAlgorithm, algorithms.SoftwareKey],
) -> None:
    """Eight threads sign and verify with one key object per type (the key store hands out
    one per key and the service signs on a thread pool); every signature must be right."""

    def work(index: int) -> list[tuple[KeyAlgorithm, SignatureScheme, bytes, bytes]]:
        made = []
        for round_ in range(30):
            alg, scheme = CASES[(index + round_) % len(CASES)]
            message = MESSAGE + f"{index}/{round_}".encode()
            signature = keys_by_alg[alg].sign(message, scheme)
            algorithms.verify(keys_by_alg[alg].public_key_info, message, signature, scheme)
            made.append((alg, scheme, message, signature))
        return made

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [item for batch in pool.map(work, range(8)) for item in batch]
    assert len(results) == 240
    for alg, scheme, message, signature in results:
        with pytest.raises(SignatureInvalid):
            algorithms.verify(keys_by_alg[alg].public_key_info, message + b".", signature, scheme)


@pytest.mark.parametrize(("alg", "scheme"), CASES)
def test_malformed_signatures_are_invalid_not_crashes(
    keys_by_alg: dict[KeyAlgorithm, algorithms.SoftwareKey],
    alg: KeyAlgorithm,
    scheme: SignatureScheme,
) -> None:
    key = keys_by_alg[alg]
    good = key.sign(MESSAGE, scheme)
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0x01
    for bad in (b"", b"\x30", good[:-1], bytes(flipped), good + b"\x00", b"\xff" * 4096):
        with pytest.raises(SignatureInvalid):
            algorithms.verify(key.public_key_info, MESSAGE, bad, scheme)
    # Other buffers than bytes are accepted as they are (PDF byte ranges are memoryviews).
    algorithms.verify(key.public_key_info, bytearray(MESSAGE), memoryview(good), scheme)


@pytest.mark.parametrize("garbage", [b"", b"\x30\x03\x02\x01\x00", b"not DER at all" * 10])
@pytest.mark.parametrize("alg", [KeyAlgorithm.RSA2048, KeyAlgorithm.P256])
def test_undecodable_pkcs8_is_a_clear_error(garbage: bytes, alg: KeyAlgorithm) -> None:
    with pytest.raises(UnsupportedAlgorithm, match="PKCS#8"):
        algorithms.load_pkcs8(alg, garbage)


def test_load_pkcs8_refuses_a_key_of_another_type(
    keys_by_alg: dict[KeyAlgorithm, algorithms.SoftwareKey],
) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    rsa2048 = keys_by_alg[KeyAlgorithm.RSA2048].pkcs8_der()
    wrong = [
        (KeyAlgorithm.RSA3072, rsa2048),
        (KeyAlgorithm.P256, rsa2048),
        (KeyAlgorithm.RSA2048, keys_by_alg[KeyAlgorithm.P256].pkcs8_der()),
        (KeyAlgorithm.P256, p384),
    ]
    for key_algorithm, pkcs8 in wrong:
        with pytest.raises(UnsupportedAlgorithm, match=key_algorithm.value):
            algorithms.load_pkcs8(key_algorithm, pkcs8)


def test_unreadable_public_key_in_a_certificate_is_an_invalid_signature(
    keys_by_alg: dict[KeyAlgorithm, algorithms.SoftwareKey],
) -> None:
    """A well-formed SPKI that cannot be loaded (a point not on the curve) cannot verify."""
    info = keys_by_alg[KeyAlgorithm.P256].public_key_info
    point = bytearray(info["public_key"].native)
    point[-1] ^= 0x01
    broken = keys.PublicKeyInfo({"algorithm": info["algorithm"], "public_key": bytes(point)})
    with pytest.raises(SignatureInvalid, match="cannot be read"):
        algorithms.verify(broken, MESSAGE, b"\x30\x00", SignatureScheme.ECDSA_SHA256)
