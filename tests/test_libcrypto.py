"""``pki.libcrypto``: RSA/ECDSA on the system OpenSSL with contexts reused per key and thread.

Checked against ``cryptography`` (its own, separately built OpenSSL) and the ``openssl``
command; the risky parts of reusing contexts — threads, bad input after good, error-queue
hygiene — each get a test.
"""

from __future__ import annotations

import gc
import subprocess
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from pki import algorithms, libcrypto
from pki.algorithms import KeyAlgorithm, SignatureScheme
from pki.errors import SignatureInvalid, UnsupportedAlgorithm
from pki.libcrypto import Padding

MESSAGE = "郑州市行政审批专用章".encode() * 10

_CRYPTOGRAPHY_PADDING = {
    Padding.RSA_PKCS1V15: lambda: (padding.PKCS1v15(), hashes.SHA256()),
    Padding.RSA_PSS: lambda: (
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    ),
    Padding.ECDSA: lambda: (ec.ECDSA(hashes.SHA256()),),
}
CASES = [
    ("rsa", Padding.RSA_PKCS1V15),
    ("rsa", Padding.RSA_PSS),
    ("ec", Padding.ECDSA),
]


@pytest.fixture(scope="module")
def keys() -> dict[str, libcrypto.PrivateKey]:
    return {
        "rsa": libcrypto.PrivateKey.generate_rsa(2048),
        "ec": libcrypto.PrivateKey.generate_ec("P-256"),
    }


def _cryptography_public(key: libcrypto.PrivateKey):
    return serialization.load_der_public_key(key.spki_der())


@pytest.mark.parametrize(("kind", "pad"), CASES)
def test_signatures_verify_in_cryptography_and_back(
    keys: dict[str, libcrypto.PrivateKey], kind: str, pad: Padding
) -> None:
    key = keys[kind]
    signature = key.sign(MESSAGE, pad)
    public = _cryptography_public(key)
    public.verify(signature, MESSAGE, *_CRYPTOGRAPHY_PADDING[pad]())
    with pytest.raises(InvalidSignature):
        public.verify(signature, MESSAGE + b".", *_CRYPTOGRAPHY_PADDING[pad]())

    private = serialization.load_der_private_key(key.pkcs8_der(), password=None)
    theirs = private.sign(MESSAGE, *_CRYPTOGRAPHY_PADDING[pad]())
    ours = libcrypto.PublicKey.from_spki(key.spki_der())
    ours.verify(MESSAGE, theirs, pad)
    with pytest.raises(SignatureInvalid):
        ours.verify(MESSAGE + b".", theirs, pad)


@pytest.mark.parametrize(("kind", "pad"), CASES)
def test_any_buffer_and_any_length_is_hashed_whole(
    keys: dict[str, libcrypto.PrivateKey], kind: str, pad: Padding
) -> None:
    """The C helper hashes what it is given: bytes, bytearray or a memoryview slice, empty
    or megabytes; ``cryptography`` checks each signature over the plain bytes."""
    big = bytes(range(256)) * 8192  # 2 MiB
    public = libcrypto.PublicKey.from_spki(keys[kind].spki_der())
    theirs = _cryptography_public(keys[kind])
    for message, plain in [
        (b"", b""),
        (bytearray(MESSAGE), MESSAGE),
        (memoryview(big)[5:-7], big[5:-7]),
        (big, big),
    ]:
        signature = keys[kind].sign(message, pad)
        theirs.verify(signature, plain, *_CRYPTOGRAPHY_PADDING[pad]())
        public.verify(message, bytearray(signature), pad)
        with pytest.raises(SignatureInvalid):
            public.verify(plain + b".", signature, pad)


def test_generated_keys_are_what_was_asked_and_pass_openssl_check(
    keys: dict[str, libcrypto.PrivateKey], tmp_path: Path
) -> None:
    assert (keys["rsa"].kind, keys["rsa"].bits) == ("rsa", 2048)
    assert (keys["ec"].kind, keys["ec"].curve) == ("ec", "prime256v1")
    assert isinstance(
        serialization.load_der_private_key(keys["rsa"].pkcs8_der(), None), rsa.RSAPrivateKey
    )
    for kind, key in keys.items():
        der = tmp_path / f"{kind}.der"
        der.write_bytes(key.pkcs8_der())
        checked = subprocess.run(
            ["openssl", "pkey", "-inform", "DER", "-in", str(der), "-check", "-noout"],
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, checked.stderr
        assert "valid" in checked.stdout.lower()


def test_contexts_are_per_thread(keys: dict[str, libcrypto.PrivateKey]) -> None:
    """Eight threads hammer one key of each type; every signature must be right."""
    publics = {kind: libcrypto.PublicKey.from_spki(key.spki_der()) for kind, key in keys.items()}

    def work(index: int) -> list[tuple[str, Padding, bytes, bytes]]:
        made = []
        for round_ in range(30):
            kind, pad = CASES[(index + round_) % len(CASES)]
            message = MESSAGE + f"{index}/{round_}".encode()
            signature = keys[kind].sign(message, pad)
            publics[kind].verify(message, signature, pad)
            made.append((kind, pad, message, signature))
        return made

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [item for batch in pool.map(work, range(8)) for item in batch]
    assert len(results) == 240
    for kind, pad, message, signature in results:  # and independently, on this thread
        _cryptography_public(keys[kind]).verify(signature, message, *_CRYPTOGRAPHY_PADDING[pad]())


@pytest.mark.parametrize(("kind", "pad"), CASES)
def test_bad_signatures_fail_cleanly_and_leave_the_context_usable(
    keys: dict[str, libcrypto.PrivateKey], kind: str, pad: Padding
) -> None:
    public = libcrypto.PublicKey.from_spki(keys[kind].spki_der())
    good = keys[kind].sign(MESSAGE, pad)
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0x01
    for bad in (b"", b"\x30", good[:-1], bytes(flipped), good + b"\x00", b"\xff" * 4096):
        with pytest.raises(SignatureInvalid):
            public.verify(MESSAGE, bad, pad)
        public.verify(MESSAGE, good, pad)  # the reused context is not poisoned


def test_wrong_padding_for_the_key_type_is_refused(keys: dict[str, libcrypto.PrivateKey]) -> None:
    with pytest.raises(UnsupportedAlgorithm):
        keys["ec"].sign(MESSAGE, Padding.RSA_PKCS1V15)
    with pytest.raises(UnsupportedAlgorithm):
        keys["rsa"].sign(MESSAGE, Padding.ECDSA)


@pytest.mark.parametrize("garbage", [b"", b"\x30\x03\x02\x01\x00", b"not DER at all" * 10])
def test_undecodable_keys_are_clear_errors(garbage: bytes) -> None:
    with pytest.raises(UnsupportedAlgorithm, match="PKCS#8"):
        libcrypto.PrivateKey.from_pkcs8(garbage)
    with pytest.raises(UnsupportedAlgorithm, match="SubjectPublicKeyInfo"):
        libcrypto.PublicKey.from_spki(garbage)


def test_load_pkcs8_refuses_a_key_of_another_type(keys: dict[str, libcrypto.PrivateKey]) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    wrong = [
        (KeyAlgorithm.RSA3072, keys["rsa"].pkcs8_der()),
        (KeyAlgorithm.P256, keys["rsa"].pkcs8_der()),
        (KeyAlgorithm.RSA2048, keys["ec"].pkcs8_der()),
        (KeyAlgorithm.P256, p384),
    ]
    for key_algorithm, pkcs8 in wrong:
        with pytest.raises(UnsupportedAlgorithm, match=key_algorithm.value):
            algorithms.load_pkcs8(key_algorithm, pkcs8)


def test_unreadable_public_key_in_a_certificate_is_an_invalid_signature(
    keys: dict[str, libcrypto.PrivateKey],
) -> None:
    """A well-formed SPKI that OpenSSL rejects (a point not on the curve) cannot verify."""
    info = algorithms.keys.PublicKeyInfo.load(keys["ec"].spki_der())
    point = bytearray(info["public_key"].native)
    point[-1] ^= 0x01
    broken = algorithms.keys.PublicKeyInfo(
        {"algorithm": info["algorithm"], "public_key": bytes(point)}
    )
    with pytest.raises(SignatureInvalid, match="cannot be read"):
        algorithms.verify(broken, MESSAGE, b"\x30\x00", SignatureScheme.ECDSA_SHA256)


def test_a_key_that_has_signed_is_freed_when_dropped() -> None:
    """The bound signers and per-thread contexts hold the EVP_PKEY, never the key object,
    so dropping the last reference frees it at once (no cycle waiting for the GC)."""
    gc.disable()
    try:
        for make, pad in [
            (libcrypto.PrivateKey.generate_ec, Padding.ECDSA),
            (lambda: libcrypto.PrivateKey.generate_rsa(2048), Padding.RSA_PSS),
        ]:
            key = make()
            public = libcrypto.PublicKey.from_spki(key.spki_der())
            public.verify(MESSAGE, key.sign(MESSAGE, pad), pad)
            refs = [weakref.ref(key), weakref.ref(public)]
            del key, public
            assert [ref() for ref in refs] == [None, None]
    finally:
        gc.enable()


def test_repr_shows_no_key_material(keys: dict[str, libcrypto.PrivateKey]) -> None:
    assert repr(keys["rsa"]) == "PrivateKey(rsa, 2048 bits)"
    assert repr(keys["ec"]) == "PrivateKey(ec, 256 bits)"


def test_the_library_is_openssl_3() -> None:
    assert libcrypto.OPENSSL_VERSION.startswith("OpenSSL 3.")
