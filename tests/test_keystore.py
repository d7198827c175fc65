"""The encrypted key store and atomic writes, on real keys and real files.

Signatures are cross-checked with the ``openssl`` command line, and the on-disk format is
decrypted here with an independent reading of the documented format (``hashlib.scrypt``
+ AES-GCM), so the tests would notice a store that "works" only with itself.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from asn1crypto import keys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pki import algorithms
from pki.algorithms import KeyAlgorithm, SignatureScheme, SigningKey
from pki.errors import KeyStoreError, SignatureInvalid, UnsupportedAlgorithm, WrongPassphrase
from pki.fsutil import atomic_write
from pki.keystore import FileKeyStore, KeyInfo, KeyStore, StoredKey, compute_key_id

PASSPHRASE = "correct horse battery staple 印章"
ALL_ALGORITHMS = list(KeyAlgorithm)
SM2_DISTID = "distid:1234567812345678"


# -- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[KeyAlgorithm, KeyInfo]]:
    """A store with one key of every algorithm (generated once: RSA-3072 is slow)."""
    directory = tmp_path_factory.mktemp("filled") / "keys"
    store = FileKeyStore.create(directory, PASSPHRASE)
    infos = {alg: store.generate(alg, label=f"test {alg.value}") for alg in ALL_ALGORITHMS}
    return directory, infos


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, KeyInfo, KeyInfo]:
    """A fresh store with two SM2 keys, for tests that damage files."""
    directory = tmp_path / "keys"
    store = FileKeyStore.create(directory, PASSPHRASE)
    return directory, store.generate("sm2", "a"), store.generate("sm2", "b")


def key_file(directory: Path, key_id: str) -> Path:
    return directory / f"{key_id}.key"


def independent_decrypt(directory: Path, key_id: str, passphrase: str = PASSPHRASE) -> bytes:
    """Decrypt a key file following only the format documented in ``pki.keystore``."""
    store = json.loads((directory / "keystore.json").read_text())
    kdf = store["kdf"]
    assert (kdf["name"], kdf["n"], kdf["r"], kdf["p"]) == ("scrypt", 2**15, 8, 1)
    salt = base64.b64decode(kdf["salt"])
    assert len(salt) == 16
    master = hashlib.scrypt(
        passphrase.encode(), salt=salt, n=kdf["n"], r=kdf["r"], p=kdf["p"], maxmem=2**26, dklen=32
    )
    aead = AESGCM(master)
    verifier = store["verifier"]
    assert (
        aead.decrypt(
            base64.b64decode(verifier["nonce"]),
            base64.b64decode(verifier["ciphertext"]),
            b"sealsvc-keystore/verifier/v1",
        )
        == b"sealsvc key store master key verifier v1"
    )
    envelope = json.loads(key_file(directory, key_id).read_text())
    bound = {
        k: envelope[k]
        for k in ("version", "key_id", "algorithm", "label", "created_at", "public_key")
    }
    aad = b"sealsvc-keystore/key/v1\x00" + json.dumps(
        bound, sort_keys=True, separators=(",", ":")
    ).encode("utf-8")
    return aead.decrypt(
        base64.b64decode(envelope["nonce"]), base64.b64decode(envelope["ciphertext"]), aad
    )


def secrets_of(pkcs8: bytes) -> list[bytes]:
    """The PKCS#8 DER and the raw private numbers inside it (scalar, or d, p, q)."""
    private = keys.PrivateKeyInfo.load(pkcs8)["private_key"].parsed
    if "private_exponent" in private:
        numbers = [private[name].native for name in ("private_exponent", "prime1", "prime2")]
    else:
        numbers = [private["private_key"].native]
    raw = [n.to_bytes((n.bit_length() + 7) // 8, "big") for n in numbers]
    return [pkcs8, *raw]


def text_forms(secret: bytes) -> list[bytes]:
    """How a secret could show up in text: hex (both cases) and base64."""
    return [secret.hex().encode(), secret.hex().upper().encode(), base64.b64encode(secret)]


def assert_clean_error(exc: BaseException, forbidden: list[bytes] = ()) -> None:
    """One line, no passphrase, no key material, no chained low-level exception shown."""
    message = str(exc)
    assert message and "\n" not in message
    assert PASSPHRASE not in message
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
    for secret in forbidden:
        for form in text_forms(secret):
            assert form.decode() not in message


def spki_pem(path: Path, info: KeyInfo) -> Path:
    der = info.public_key_info.dump()
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    path.write_text(
        "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"
    )
    return path


def openssl(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, check=False)


def openssl_verify(
    tmp: Path, info: KeyInfo, scheme: SignatureScheme, msg: bytes, sig: bytes
) -> bool:
    pub = spki_pem(tmp / "pub.pem", info)
    (tmp / "msg").write_bytes(msg)
    (tmp / "sig").write_bytes(sig)
    if scheme is SignatureScheme.SM2_SM3:
        args = ["pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", tmp / "msg"]
        args += ["-sigfile", tmp / "sig", "-digest", "sm3", "-pkeyopt", SM2_DISTID]
    else:
        args = ["dgst", "-sha256", "-verify", pub, "-signature", tmp / "sig"]
        if scheme is SignatureScheme.RSA_PSS_SHA256:
            args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]
        args.append(tmp / "msg")
    return openssl(*args).returncode == 0


# -- generate, reopen, sign ----------------------------------------------------------------


@pytest.mark.parametrize("alg", ALL_ALGORITHMS, ids=lambda a: a.value)
def test_reopened_store_signs_and_openssl_verifies(filled, alg, tmp_path):
    directory, infos = filled
    info = infos[alg]
    store = FileKeyStore.open(directory, PASSPHRASE)
    handle = store.signer(info.key_id)
    assert isinstance(handle, SigningKey)
    assert handle.key_algorithm is alg
    assert handle.public_key_info.dump() == info.public_key_info.dump()
    schemes = [alg.default_scheme]
    if alg.family == "rsa":
        schemes.append(SignatureScheme.RSA_PSS_SHA256)
    message = f"seal document for {alg.value}".encode()
    for scheme in schemes:
        signature = handle.sign(message, scheme)
        algorithms.verify(info.public_key_info, message, signature, scheme)
        assert openssl_verify(tmp_path, info, scheme, message, signature)
        assert not openssl_verify(tmp_path, info, scheme, message + b"!", signature)
        with pytest.raises(SignatureInvalid):
            algorithms.verify(info.public_key_info, message + b"!", signature, scheme)


def test_sm2_signature_accepted_by_openssl_pkeyutl_with_distid(filled, tmp_path):
    """The exact command from the design notes accepts a store-made SM2 signature."""
    directory, infos = filled
    info = infos[KeyAlgorithm.SM2]
    signature = FileKeyStore.open(directory, PASSPHRASE).signer(info.key_id).sign(b"SM2 seal")
    pub = spki_pem(tmp_path / "sm2.pem", info)
    (tmp_path / "m").write_bytes(b"SM2 seal")
    (tmp_path / "s").write_bytes(signature)
    result = openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", tmp_path / "m",
        "-sigfile", tmp_path / "s", "-digest", "sm3", "-pkeyopt", SM2_DISTID,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert b"Signature Verified Successfully" in result.stdout


def test_info_and_list_survive_reopen(filled):
    directory, infos = filled
    store = FileKeyStore.open(directory, PASSPHRASE)
    listed = store.list()
    assert {i.key_id for i in listed} == {i.key_id for i in infos.values()}
    assert listed == sorted(listed, key=lambda i: (i.created_at, i.key_id))
    for alg, info in infos.items():
        again = store.info(info.key_id)
        assert again == info
        assert again.label == f"test {alg.value}"
        assert again.created_at.tzinfo is not None
        assert again.public_key_info.dump() == info.public_key_info.dump()


def test_key_id_is_truncated_sha256_of_spki(filled):
    for info in filled[1].values():
        spki = info.public_key_info.dump()
        assert info.key_id == hashlib.sha256(spki).hexdigest()[:40]
        assert compute_key_id(info.public_key_info) == info.key_id


def test_decrypted_pkcs8_is_the_key_openssl_sees(filled, tmp_path):
    """Independent decryption yields a PKCS#8 that openssl maps to the stored public key."""
    directory, infos = filled
    for info in infos.values():
        der = tmp_path / "k.der"
        der.write_bytes(independent_decrypt(directory, info.key_id))
        result = openssl("pkey", "-inform", "DER", "-in", der, "-pubout", "-outform", "DER")
        assert result.returncode == 0, result.stderr
        assert result.stdout == info.public_key_info.dump()


def test_key_files_hold_no_plaintext_key_material(filled):
    directory, infos = filled
    for info in infos.values():
        raw = key_file(directory, info.key_id).read_bytes()
        envelope = json.loads(raw)
        decoded = [base64.b64decode(envelope[k]) for k in ("public_key", "nonce", "ciphertext")]
        for secret in secrets_of(independent_decrypt(directory, info.key_id)):
            assert len(secret) >= 32
            assert secret not in raw
            assert not any(secret in blob for blob in decoded)
            for form in text_forms(secret):
                assert form not in raw


def test_repr_never_shows_key_material(filled):
    directory, infos = filled
    store = FileKeyStore.open(directory, PASSPHRASE)
    for info in infos.values():
        handle = store.signer(info.key_id)
        shown = repr(store) + repr(handle) + str(handle) + repr(info)
        assert info.key_id in repr(handle)
        for secret in secrets_of(independent_decrypt(directory, info.key_id)):
            for form in text_forms(secret):
                assert form.decode() not in shown
        assert PASSPHRASE not in shown
        assert not hasattr(handle, "pkcs8_der")


def test_interfaces(filled):
    directory, infos = filled
    store = FileKeyStore.open(directory, PASSPHRASE)
    assert isinstance(store, KeyStore)
    handle = store.signer(infos[KeyAlgorithm.P256].key_id)
    assert isinstance(handle, StoredKey) and isinstance(handle, SigningKey)
    assert store.signer(handle.key_id) is handle  # cached, loaded once


def test_scheme_not_fitting_the_key_is_refused(filled):
    directory, infos = filled
    handle = FileKeyStore.open(directory, PASSPHRASE).signer(infos[KeyAlgorithm.SM2].key_id)
    with pytest.raises(UnsupportedAlgorithm):
        handle.sign(b"x", SignatureScheme.ECDSA_SHA256)


def test_unknown_algorithm_and_bad_labels(small):
    directory, _, _ = small
    store = FileKeyStore.open(directory, PASSPHRASE)
    with pytest.raises(UnsupportedAlgorithm, match="unknown key algorithm 'dsa'"):
        store.generate("dsa")
    for label in ("x" * 201, "line\nbreak", "tab\there"):
        with pytest.raises(KeyStoreError, match="label"):
            store.generate("p256", label)
    assert len(store.list()) == 2


# -- permissions and layout ----------------------------------------------------------------


def test_modes_are_strict_even_with_permissive_umask(tmp_path):
    directory = tmp_path / "a" / "keys"
    old = os.umask(0)
    try:
        store = FileKeyStore.create(directory, PASSPHRASE)
        info = store.generate("p256")
    finally:
        os.umask(old)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "keystore.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file(directory, info.key_id).stat().st_mode) == 0o600
    assert {p.name for p in directory.iterdir()} == {"keystore.json", f"{info.key_id}.key"}


def test_create_tightens_an_existing_directory(tmp_path):
    directory = tmp_path / "keys"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    FileKeyStore.create(directory, PASSPHRASE)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


# -- passphrase and store file ---------------------------------------------------------------


def test_wrong_passphrase_is_one_clean_error(small):
    directory, _, _ = small
    with pytest.raises(WrongPassphrase) as caught:
        FileKeyStore.open(directory, "not the passphrase")
    assert isinstance(caught.value, KeyStoreError)
    assert str(caught.value) == f"wrong master passphrase for the key store at {directory}"
    assert_clean_error(caught.value)
    assert "not the passphrase" not in str(caught.value)


def test_passphrase_is_unicode_normalised(tmp_path):
    decomposed = "pa\u0308sswort"  # "ä" as a + combining diaeresis
    composed = "p\u00e4sswort"
    FileKeyStore.create(tmp_path / "k", decomposed).generate("p256")
    assert len(FileKeyStore.open(tmp_path / "k", composed).list()) == 1


@pytest.mark.parametrize("passphrase", ["", None, b"bytes"])
def test_empty_or_non_string_passphrase_refused(tmp_path, passphrase):
    with pytest.raises(KeyStoreError, match="non-empty string"):
        FileKeyStore.create(tmp_path / "k", passphrase)
    assert not (tmp_path / "k").exists()


def test_create_refuses_existing_store_and_orphan_key_files(small, tmp_path):
    directory, a, _ = small
    before = (directory / "keystore.json").read_bytes()
    with pytest.raises(KeyStoreError, match="already initialised"):
        FileKeyStore.create(directory, "other")
    assert (directory / "keystore.json").read_bytes() == before
    orphan = tmp_path / "orphans"
    orphan.mkdir()
    key_file(orphan, a.key_id).write_bytes(key_file(directory, a.key_id).read_bytes())
    with pytest.raises(KeyStoreError, match="holds key files"):
        FileKeyStore.open_or_create(orphan, PASSPHRASE)
    assert not (orphan / "keystore.json").exists()


def test_open_or_create(tmp_path):
    directory = tmp_path / "keys"
    info = FileKeyStore.open_or_create(directory, PASSPHRASE).generate("sm2")
    assert FileKeyStore.open_or_create(directory, PASSPHRASE).info(info.key_id) == info
    with pytest.raises(WrongPassphrase):
        FileKeyStore.open_or_create(directory, "wrong")


def test_open_missing_store(tmp_path):
    with pytest.raises(KeyStoreError, match="no key store at") as caught:
        FileKeyStore.open(tmp_path / "nothing", PASSPHRASE)
    assert_clean_error(caught.value)


def _with(raw: bytes, **changes: object) -> bytes:
    return json.dumps({**json.loads(raw), **changes}).encode()


def _without(raw: bytes, name: str) -> bytes:
    return json.dumps({k: v for k, v in json.loads(raw).items() if k != name}).encode()


def _kdf(n: int) -> dict[str, object]:
    return {"name": "scrypt", "n": n, "r": 8, "p": 1, "salt": "AAAAAAAAAAAAAAAAAAAAAA=="}


STORE_DAMAGE = {
    "truncated": lambda raw: raw[: len(raw) // 2],
    "empty": lambda raw: b"",
    "binary": lambda raw: b"\xff\xfe garbage",
    "not-object": lambda raw: b"[1, 2]",
    "huge-n": lambda raw: _with(raw, kdf=_kdf(2**30)),
    "weak-n": lambda raw: _with(raw, kdf=_kdf(2)),
    "n-not-power-of-two": lambda raw: _with(raw, kdf=_kdf(2**15 + 1)),
    "version": lambda raw: _with(raw, version=99),
    "cipher": lambda raw: _with(raw, cipher="des"),
    "no-verifier": lambda raw: _without(raw, "verifier"),
}


@pytest.mark.parametrize("damage", STORE_DAMAGE.values(), ids=STORE_DAMAGE.keys())
def test_corrupt_store_file_is_a_keystore_error_not_wrong_passphrase(small, damage):
    directory, _, _ = small
    path = directory / "keystore.json"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(KeyStoreError) as caught:
        FileKeyStore.open(directory, PASSPHRASE)
    assert not isinstance(caught.value, WrongPassphrase)
    assert_clean_error(caught.value)


def test_tampered_verifier_reads_as_wrong_passphrase(small):
    directory, _, _ = small
    path = directory / "keystore.json"
    document = json.loads(path.read_text())
    tampered = bytearray(base64.b64decode(document["verifier"]["ciphertext"]))
    tampered[0] ^= 1
    document["verifier"]["ciphertext"] = base64.b64encode(bytes(tampered)).decode()
    path.write_text(json.dumps(document))
    with pytest.raises(WrongPassphrase):
        FileKeyStore.open(directory, PASSPHRASE)


# -- damaged, swapped and missing key files ------------------------------------------------


def _flip_ciphertext(envelope: dict) -> None:
    blob = bytearray(base64.b64decode(envelope["ciphertext"]))
    blob[len(blob) // 2] ^= 0x01
    envelope["ciphertext"] = base64.b64encode(bytes(blob)).decode()


ENVELOPE_DAMAGE = {
    "flipped-ciphertext-bit": _flip_ciphertext,
    "label-edited": lambda e: e.update(label="forged"),
    "created-at-edited": lambda e: e.update(created_at="2001-01-01T00:00:00+00:00"),
    "naive-created-at": lambda e: e.update(created_at="2001-01-01T00:00:00"),
    "algorithm-changed": lambda e: e.update(algorithm="p256"),
    "unknown-algorithm": lambda e: e.update(algorithm="dsa"),
    "bad-base64": lambda e: e.update(nonce="!!!"),
    "short-nonce": lambda e: e.update(nonce="AAAA"),
    "missing-ciphertext": lambda e: e.pop("ciphertext"),
    "key-id-changed": lambda e: e.update(key_id="0" * 40),
    "label-not-string": lambda e: e.update(label=7),
    "version": lambda e: e.update(version=2),
}


@pytest.mark.parametrize("damage", ENVELOPE_DAMAGE.values(), ids=ENVELOPE_DAMAGE.keys())
def test_altered_key_file_is_refused(small, damage):
    directory, a, _ = small
    path = key_file(directory, a.key_id)
    envelope = json.loads(path.read_text())
    damage(envelope)
    path.write_text(json.dumps(envelope))
    store = FileKeyStore.open(directory, PASSPHRASE)
    for call in (store.signer, store.info):
        with pytest.raises(KeyStoreError, match="is corrupt") as caught:
            call(a.key_id)
        assert_clean_error(caught.value)
    with pytest.raises(KeyStoreError, match="is corrupt"):
        store.list()


KEY_FILE_DAMAGE = {
    "half": lambda raw: raw[: len(raw) // 2],
    "tail-cut": lambda raw: raw[:-40],
    "empty": lambda raw: b"",
    "zeros": lambda raw: b"\x00" * 10,
    "empty-object": lambda raw: b"{}",
    "array": lambda raw: b"[]",
    "oversized": lambda raw: raw + b" " * 70_000,
}


@pytest.mark.parametrize("damage", KEY_FILE_DAMAGE.values(), ids=KEY_FILE_DAMAGE.keys())
def test_truncated_or_garbage_key_file_is_refused(small, damage):
    directory, a, _ = small
    path = key_file(directory, a.key_id)
    path.write_bytes(damage(path.read_bytes()))
    store = FileKeyStore.open(directory, PASSPHRASE)
    with pytest.raises(KeyStoreError, match="corrupt") as caught:
        store.signer(a.key_id)
    assert_clean_error(caught.value)


def test_swapped_key_files_are_refused(small):
    directory, a, b = small
    path_a, path_b = key_file(directory, a.key_id), key_file(directory, b.key_id)
    # Whole file copied under another key's name: its key id no longer matches.
    original_b = path_b.read_bytes()
    path_b.write_bytes(path_a.read_bytes())
    with pytest.raises(KeyStoreError, match="corrupt"):
        FileKeyStore.open(directory, PASSPHRASE).signer(b.key_id)
    # Only the encrypted part moved into b's envelope: the AAD (b's metadata) rejects it.
    envelope_a = json.loads(path_a.read_text())
    envelope_b = json.loads(original_b)
    envelope_b.update(nonce=envelope_a["nonce"], ciphertext=envelope_a["ciphertext"])
    path_b.write_text(json.dumps(envelope_b))
    with pytest.raises(KeyStoreError, match="authentication failed"):
        FileKeyStore.open(directory, PASSPHRASE).signer(b.key_id)
    # a is untouched and still signs.
    FileKeyStore.open(directory, PASSPHRASE).signer(a.key_id).sign(b"ok")


def test_key_file_from_another_store_with_same_passphrase_is_refused(small, tmp_path):
    directory, a, _ = small
    other = FileKeyStore.create(tmp_path / "other", PASSPHRASE)
    key_file(other.directory, a.key_id).write_bytes(key_file(directory, a.key_id).read_bytes())
    with pytest.raises(KeyStoreError, match="authentication failed"):
        other.signer(a.key_id)


def test_missing_key(small):
    directory, _, _ = small
    store = FileKeyStore.open(directory, PASSPHRASE)
    absent = "ab" * 20
    for call in (store.signer, store.info, store.delete):
        with pytest.raises(KeyStoreError, match=f"no key {absent} in the key store") as caught:
            call(absent)
        assert_clean_error(caught.value)


@pytest.mark.parametrize(
    "key_id",
    ["../x", "../" + "a" * 37, "A" * 40, "a" * 39, "a" * 41, "a" * 40 + "\n", "/etc/passwd",
     "", None, 123, "a" * 38 + "/.", "ａ" * 40],
)  # fmt: skip
def test_bad_key_ids_are_refused(small, key_id):
    directory, _, _ = small
    victim = directory.parent / "x.key"
    victim.write_text("not yours")
    store = FileKeyStore.open(directory, PASSPHRASE)
    for call in (store.signer, store.info, store.delete):
        with pytest.raises(KeyStoreError, match="invalid key id") as caught:
            call(key_id)
        assert_clean_error(caught.value)
    assert victim.read_text() == "not yours"


def test_delete_removes_file_and_cached_handle(small):
    directory, a, b = small
    store = FileKeyStore.open(directory, PASSPHRASE)
    store.signer(a.key_id).sign(b"before")
    store.delete(a.key_id)
    assert not key_file(directory, a.key_id).exists()
    assert [i.key_id for i in store.list()] == [b.key_id]
    with pytest.raises(KeyStoreError, match="no key"):
        store.signer(a.key_id)


def test_list_ignores_foreign_and_temporary_files(small):
    directory, a, b = small
    (directory / f".{a.key_id}.key.abc.tmp").write_bytes(b"half-written")
    (directory / "README").write_text("hello")
    (directory / "notakey.key").write_text("{}")
    ids = {i.key_id for i in FileKeyStore.open(directory, PASSPHRASE).list()}
    assert ids == {a.key_id, b.key_id}


def test_write_failure_is_a_clean_keystore_error(small):
    directory, _, _ = small
    store = FileKeyStore.open(directory, PASSPHRASE)
    for path in directory.iterdir():
        path.unlink()
    directory.rmdir()
    with pytest.raises(KeyStoreError, match="cannot write key file") as caught:
        store.generate("sm2")
    assert_clean_error(caught.value)


# -- concurrency ----------------------------------------------------------------------------


def test_concurrent_signing_from_threads(filled):
    directory, infos = filled
    store = FileKeyStore.open(directory, PASSPHRASE)  # nothing cached yet
    chosen = [infos[KeyAlgorithm.SM2], infos[KeyAlgorithm.P256], infos[KeyAlgorithm.RSA2048]]
    threads = 8
    barrier = threading.Barrier(threads)

    def work(n: int) -> list[tuple[KeyInfo, StoredKey, bytes, bytes]]:
        barrier.wait()  # every thread asks for the handles at the same moment
        out = []
        for i in range(15):
            info = chosen[(n + i) % len(chosen)]
            handle = store.signer(info.key_id)
            message = f"thread {n} message {i}".encode()
            out.append((info, handle, message, handle.sign(message)))
        return out

    with ThreadPoolExecutor(threads) as pool:
        results = [r for rs in pool.map(work, range(threads)) for r in rs]
    assert len(results) == threads * 15
    for info in chosen:
        assert len({id(h) for i, h, _, _ in results if i is info}) == 1  # loaded exactly once
    for info, _, message, signature in results:
        algorithms.verify(info.public_key_info, message, signature, info.algorithm.default_scheme)


# -- atomic_write ---------------------------------------------------------------------------


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_sets_exact_mode_and_replaces(tmp_path):
    target = tmp_path / "ca.pem"
    old = os.umask(0o077)
    try:
        atomic_write(target, b"one", 0o644)
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    atomic_write(target, bytearray(b"two"), 0o600)
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert _leftovers(tmp_path) == []


def test_atomic_write_exclusive_never_replaces(tmp_path):
    target = tmp_path / "f"
    atomic_write(target, b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        atomic_write(target, b"second", exclusive=True)
    assert target.read_bytes() == b"first"
    assert _leftovers(tmp_path) == []


def test_atomic_write_failed_rename_leaves_no_temp(tmp_path):
    target = tmp_path / "occupied"
    target.mkdir()
    (target / "inside").write_text("kept")
    with pytest.raises(IsADirectoryError):
        atomic_write(target, b"data")
    assert (target / "inside").read_text() == "kept"
    assert _leftovers(tmp_path) == []


def test_atomic_write_failing_fsync_keeps_old_content(tmp_path, monkeypatch):
    target = tmp_path / "f"
    target.write_bytes(b"old content")

    def broken_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="Input/output error"):
        atomic_write(target, b"new content")
    monkeypatch.undo()
    assert target.read_bytes() == b"old content"
    assert _leftovers(tmp_path) == []


def test_atomic_write_disk_full_keeps_old_content(tmp_path):
    """A real short write: RLIMIT_FSIZE makes the kernel refuse bytes past 1 MiB (EFBIG)."""
    target = tmp_path / "big"
    target.write_bytes(b"old content")
    script = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from pki.fsutil import atomic_write\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))\n"
        "try:\n"
        "    atomic_write(Path(sys.argv[1]), b'x' * (4 << 20))\n"
        "except OSError as exc:\n"
        "    sys.exit(exc.errno)\n"
    )
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", script, str(target)], cwd=repo, check=False)
    assert result.returncode == errno.EFBIG
    assert target.read_bytes() == b"old content"
    assert _leftovers(tmp_path) == []


def test_atomic_write_rejects_text(tmp_path):
    with pytest.raises(TypeError, match="needs bytes"):
        atomic_write(tmp_path / "f", "text")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
