"""The PKCS#11 key store on a real SoftHSM2 token (issue 19 §3).

Keys are generated in the token and must stay there: the token itself refuses to hand out
the private value (python-pkcs11's ``C_GetAttributeValue`` and OpenSC's ``pkcs11-tool
--read-object``); signatures come out in the software signer's byte format and verify
with ``openssl``; a wrong PIN is one clear error that does not contain the PIN.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pkcs11
import pytest
from asn1crypto import pem
from helpers.local import TEST_PASSPHRASE

from pki import algorithms
from pki.algorithms import KeyAlgorithm, SignatureScheme
from pki.errors import KeyStoreError, UnsupportedAlgorithm, WrongPassphrase
from pki.keystore import FileKeyStore, compute_key_id
from pki.pkcs11_keystore import CompositeKeyStore, Pkcs11Config, Pkcs11KeyStore, TokenKey
from sealsvc.config import ConfigError, Settings

OPENSSL_OPTIONS = {
    SignatureScheme.RSA_PKCS1V15_SHA256: [],
    SignatureScheme.RSA_PSS_SHA256: [
        "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32",
        "-sigopt", "rsa_mgf1_md:sha256",
    ],
    SignatureScheme.ECDSA_SHA256: [],
}  # fmt: skip
if TYPE_CHECKING:
    from helpers.pkcs11_fixtures import SoftHsm

pytest_plugins = ("helpers.pkcs11_fixtures",)  # softhsm


@pytest.fixture
def store(softhsm: SoftHsm) -> Iterator[Pkcs11KeyStore]:
    """The run's token; the keys a test made are destroyed after it."""
    token = Pkcs11KeyStore(Pkcs11Config(softhsm.module, softhsm.token_label, softhsm.pin))
    before = {info.key_id for info in token.list()}
    yield token
    for info in token.list():
        if info.key_id not in before:
            token.delete(info.key_id)


def openssl_verifies(
    info_der: bytes, message: bytes, signature: bytes, scheme: SignatureScheme, tmp: Path
) -> bool:
    (tmp / "pub.pem").write_bytes(pem.armor("PUBLIC KEY", info_der))
    (tmp / "msg").write_bytes(message)
    (tmp / "sig").write_bytes(signature)
    result = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", "pub.pem", *OPENSSL_OPTIONS[scheme],
         "-signature", "sig", "msg"],
        cwd=tmp, capture_output=True, check=False,
    )  # fmt: skip
    return result.returncode == 0


RSA_SCHEMES = [SignatureScheme.RSA_PKCS1V15_SHA256, SignatureScheme.RSA_PSS_SHA256]


@pytest.mark.parametrize(
    ("algorithm", "schemes"),
    [(KeyAlgorithm.RSA2048, RSA_SCHEMES), (KeyAlgorithm.P256, [SignatureScheme.ECDSA_SHA256])],
)
def test_token_keys_sign_in_the_software_format_and_openssl_verifies(
    store: Pkcs11KeyStore, algorithm: KeyAlgorithm, schemes: list, tmp_path: Path
) -> None:
    info = store.generate(algorithm, label="seal ZZ-TEST")
    assert info.key_id == compute_key_id(info.public_key_info)
    assert store.info(info.key_id) == info
    assert info.key_id in {i.key_id for i in store.list()}
    signer = store.signer(info.key_id)
    assert isinstance(signer, TokenKey)
    assert signer.public_key_info.dump() == info.public_key_info.dump()
    message = "盖章 sealed in the token".encode()
    for scheme in schemes:
        signature = signer.sign(message, scheme)
        algorithms.verify(info.public_key_info, message, signature, scheme)
        assert openssl_verifies(info.public_key_info.dump(), message, signature, scheme, tmp_path)
        assert not openssl_verifies(
            info.public_key_info.dump(), message + b"!", signature, scheme, tmp_path
        )
    default = signer.sign(message)
    algorithms.verify(info.public_key_info, message, default, algorithm.default_scheme)
    if algorithm is KeyAlgorithm.P256:
        # The software signer's format: DER SEQUENCE {r, s}, as X.509, CMS and OCSP carry it.
        software = algorithms.generate(KeyAlgorithm.P256).sign(message)
        assert default[0] == software[0] == 0x30
        with pytest.raises(UnsupportedAlgorithm):
            signer.sign(message, SignatureScheme.RSA_PKCS1V15_SHA256)


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA2048, KeyAlgorithm.P256])
def test_the_private_key_cannot_be_exported(
    store: Pkcs11KeyStore,
    softhsm: SoftHsm,
    algorithm: KeyAlgorithm,
) -> None:
    info = store.generate(algorithm)
    assert store.protection(info.key_id) == {
        "token": True,
        "private": True,
        "sensitive": True,
        "always_sensitive": True,
        "extractable": False,
        "never_extractable": True,
        "local": True,
    }
    secret = (
        pkcs11.Attribute.PRIVATE_EXPONENT
        if algorithm is KeyAlgorithm.RSA2048
        else pkcs11.Attribute.VALUE
    )
    token = pkcs11.lib(softhsm.module).get_token(token_label=softhsm.token_label)
    # No PIN here: the store's session has logged this process in (PKCS#11 login state
    # belongs to the application), so this session may read what a logged-in user may.
    with token.open() as session:
        private = session.get_key(
            object_class=pkcs11.ObjectClass.PRIVATE_KEY, id=bytes.fromhex(info.key_id)
        )
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            private[secret]
        with pytest.raises(pkcs11.exceptions.PKCS11Error):
            private[pkcs11.Attribute.EXTRACTABLE] = True  # cannot be made extractable later
        # Nor wrapped out under a key we hold (the usual way to export from an HSM).
        wrapping = session.generate_key(
            pkcs11.KeyType.AES, 256, capabilities=pkcs11.MechanismFlag.WRAP
        )
        with pytest.raises(pkcs11.exceptions.KeyUnextractable):
            wrapping.wrap_key(private, mechanism=pkcs11.Mechanism.AES_KEY_WRAP_PAD)
    # OpenSC's tool, in its own process (PIN from the environment, not argv), reports the
    # same protection of the key it finds under our key id.
    environ = {"SOFTHSM2_CONF": str(softhsm.conf), "TOKEN_PIN": softhsm.pin, "PATH": "/usr/bin"}
    listed = subprocess.run(
        ["pkcs11-tool", "--module", softhsm.module, "--token-label", softhsm.token_label,
         "--login", "--pin", "env:TOKEN_PIN", "--list-objects", "--type", "privkey"],
        env=environ, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    ours = listed.split(f"ID:         {info.key_id}")[1].split("Object;")[0]
    assert "Access:     sensitive, always sensitive, never extractable, local" in ours, listed


def test_deleted_keys_are_gone_from_the_token(store: Pkcs11KeyStore) -> None:
    info = store.generate(KeyAlgorithm.P256)
    assert store.contains(info.key_id)
    store.delete(info.key_id)
    assert not store.contains(info.key_id)
    with pytest.raises(KeyStoreError, match="no key"):
        store.signer(info.key_id)
    with pytest.raises(KeyStoreError, match="no key"):
        store.delete(info.key_id)
    with pytest.raises(KeyStoreError, match="invalid key id"):
        store.info("../etc/passwd")


def test_a_wrong_pin_is_one_clear_error_without_the_pin(
    softhsm: SoftHsm,
    store: Pkcs11KeyStore,
) -> None:
    wrong = "99" + softhsm.pin[2:]
    with pytest.raises(WrongPassphrase) as raised:
        Pkcs11KeyStore(Pkcs11Config(softhsm.module, softhsm.token_label, wrong))
    assert "refused the PIN" in str(raised.value)
    assert wrong not in str(raised.value) and softhsm.pin not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert wrong not in repr(Pkcs11Config(softhsm.module, softhsm.token_label, wrong))
    # The store with the right PIN still works after the refused login.
    assert isinstance(store.list(), list)


def test_configuration_errors_are_clear(softhsm: SoftHsm) -> None:
    with pytest.raises(KeyStoreError, match="no token labelled 'nope'"):
        Pkcs11KeyStore(Pkcs11Config(softhsm.module, "nope", softhsm.pin))
    with pytest.raises(KeyStoreError, match="does not exist"):
        Pkcs11KeyStore(Pkcs11Config("/nonexistent/libp11.so", softhsm.token_label, "1"))
    # SoftHSM2 has no SM2: a vendor mechanism number is refused when the store opens.
    with pytest.raises(KeyStoreError, match="does not offer the SM2 mechanism 0x80000101"):
        Pkcs11KeyStore(Pkcs11Config(softhsm.module, softhsm.token_label, softhsm.pin, 0x80000101))


def test_settings_read_the_token_from_the_environment(softhsm: SoftHsm, tmp_path: Path) -> None:
    environ = {**softhsm.environ(), "SEALSVC_PASSPHRASE": TEST_PASSPHRASE}
    config = Settings.load(tmp_path, environ).pkcs11()
    assert config == Pkcs11Config(softhsm.module, softhsm.token_label, softhsm.pin)
    assert Settings.load(tmp_path, {}).pkcs11() is None
    with pytest.raises(ConfigError, match="needs both"):
        Settings.load(tmp_path, {"SEALSVC_PKCS11_MODULE": softhsm.module})
    with pytest.raises(ConfigError, match="not a number"):
        Settings.load(tmp_path, {**environ, "SEALSVC_PKCS11_SM2_MECHANISM": "sm2"})
    no_pin = {k: v for k, v in environ.items() if k != "SEALSVC_PKCS11_PIN_FILE"}
    with pytest.raises(ConfigError, match="SEALSVC_PKCS11_PIN or SEALSVC_PKCS11_PIN_FILE"):
        Settings.load(tmp_path, no_pin).pkcs11()


def test_composite_store_puts_sm2_in_software_and_the_rest_in_the_token(
    store: Pkcs11KeyStore, tmp_path: Path
) -> None:
    software = FileKeyStore.create(tmp_path / "keys", TEST_PASSPHRASE)
    before = software.list()
    composite = CompositeKeyStore(store, software)
    sm2 = composite.generate(KeyAlgorithm.SM2, label="sm2 seal")
    p256 = composite.generate(KeyAlgorithm.P256, label="p256 seal")
    assert composite.location(sm2.key_id) == "software"
    assert composite.location(p256.key_id) == "token"
    assert [i.key_id for i in software.list()] == [*(i.key_id for i in before), sm2.key_id]
    listed = {i.key_id for i in composite.list()}
    assert {sm2.key_id, p256.key_id} <= listed
    for info in (sm2, p256):
        signature = composite.signer(info.key_id).sign(b"m")
        algorithms.verify(info.public_key_info, b"m", signature, info.algorithm.default_scheme)
    composite.delete(sm2.key_id)
    composite.delete(p256.key_id)
    assert not store.contains(p256.key_id)
    assert software.list() == before


def test_signing_from_many_threads_at_once(store: Pkcs11KeyStore) -> None:
    """The API signs from a thread pool: concurrent signatures must all come out right."""
    keys = [store.generate(KeyAlgorithm.RSA2048), store.generate(KeyAlgorithm.P256)]
    signers = [store.signer(info.key_id) for info in keys]

    def sign(n: int) -> None:
        info, signer = keys[n % 2], signers[n % 2]
        message = f"document {n}".encode()
        algorithms.verify(
            info.public_key_info, message, signer.sign(message), info.algorithm.default_scheme
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(sign, range(200)))
