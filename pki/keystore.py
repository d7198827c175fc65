"""The encrypted key store: private keys at rest under one master passphrase.

Callers never see key bytes.  They ask a :class:`KeyStore` for a signer handle
(:class:`pki.algorithms.SigningKey`) and sign through it; that is the whole contract, so a
PKCS#11 token (SoftHSM2, a network HSM) can later implement :class:`KeyStore` and hand
out handles whose key never leaves the token.  :class:`EnvelopeKeyStore` is the software
implementation: it encrypts each key into an *envelope* and keeps the envelopes (and the
store's header with the KDF parameters and passphrase verifier) in an
:class:`EnvelopeStorage` — where they are kept is injected, because ``pki`` knows no
database.  :class:`DirectoryEnvelopes` / :class:`FileKeyStore` is the directory layout
below; ``sealsvc`` adds a database-backed storage for several nodes on PostgreSQL, with the
very same envelope bytes.

On-disk layout of a :class:`FileKeyStore` directory (a database storage keeps the same
two kinds of documents, byte for byte, in rows) (mode 0700, every file 0600)::

    keystore.json      {"format": "sealsvc-keystore", "version": 1,
                        "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": b64},
                        "cipher": "aes-256-gcm",
                        "verifier": {"nonce": b64, "ciphertext": b64}}
    <key_id>.key       {"version": 1, "key_id", "algorithm", "label", "created_at",
                        "public_key": b64 SPKI DER, "nonce": b64, "ciphertext": b64}

Why a store-wide key and not one PKCS#8 PBES2 file per key: a passphrase KDF has to be
slow (scrypt with n=2**15 takes ~0.1 s and 32 MiB here) to resist guessing.  PBES2 would
pay that for every key load; deriving the master key ONCE when the store is opened and
encrypting each key's PKCS#8 with AES-256-GCM under it makes loading a key cost
microseconds, while an attacker with the files still has to pay scrypt per guess.

The ``verifier`` is the AES-GCM encryption of a fixed constant: decrypting it tells a
wrong passphrase apart at open time, with one clear :class:`WrongPassphrase`, instead of
an obscure failure on the first signature.  Each key's ciphertext is bound (as GCM
associated data) to the key file's metadata — key id, algorithm, label, creation time
and public key — so swapping ciphertexts between key files or editing a label is
detected as corruption, not silently accepted.

Key ids are the hex of the first 20 bytes of SHA-256 over the DER SubjectPublicKeyInfo,
like an X.509 key identifier: stable, derived from the key, and — as they must match
``[0-9a-f]{40}`` exactly — safe to use as file names (``../x`` is refused).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from asn1crypto import keys
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from pki import algorithms
from pki.algorithms import KeyAlgorithm, SignatureScheme, SigningKey, SoftwareKey
from pki.errors import KeyStoreError, PkiError, UnsupportedAlgorithm, WrongPassphrase
from pki.fsutil import atomic_write, fsync_directory

__all__ = [
    "DirectoryEnvelopes",
    "EnvelopeKeyStore",
    "EnvelopeStorage",
    "FileKeyStore",
    "KeyInfo",
    "KeyStore",
    "StoredKey",
    "check_key_id",
    "check_label",
    "compute_key_id",
    "parse_key_algorithm",
]

_FORMAT = "sealsvc-keystore"
_VERSION = 1
_CIPHER = "aes-256-gcm"
_STORE_FILE = "keystore.json"
_KEY_SUFFIX = ".key"
_KEY_ID = re.compile(r"[0-9a-f]{40}")
# scrypt cost: n=2**15, r=8 → 32 MiB and ~0.1 s per derivation on the reference machine.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
# Bounds accepted when OPENING a store, so an edited keystore.json cannot make us allocate
# gigabytes (n=2**30) nor accept a trivially weak KDF (n=2).
_SCRYPT_N_RANGE, _SCRYPT_R_RANGE, _SCRYPT_P_RANGE = (2**14, 2**20), (1, 32), (1, 16)
_VERIFIER_PLAINTEXT = b"sealsvc key store master key verifier v1"
_VERIFIER_AAD = b"sealsvc-keystore/verifier/v1"
_KEY_AAD_PREFIX = b"sealsvc-keystore/key/v1\x00"
_MAX_FILE_BYTES = 64 * 1024  # a 3072-bit RSA key file is ~4 KiB
_MAX_LABEL = 200


def compute_key_id(public_key_info: keys.PublicKeyInfo) -> str:
    """The key id of a public key: hex of SHA-256(SPKI DER) truncated to 20 bytes."""
    return hashlib.sha256(public_key_info.dump()).digest()[:20].hex()


@dataclass(frozen=True)
class KeyInfo:
    """What the store tells about a key without touching its private part."""

    key_id: str
    """40 lowercase hex characters, derived from the public key (:func:`compute_key_id`)."""

    algorithm: KeyAlgorithm
    """The key type; decides the signature schemes the key can produce."""

    label: str
    """Free text an operator gave at generation time, e.g. the seal code it was made for."""

    created_at: datetime
    """When the key was generated (UTC, whole seconds)."""

    public_key_info: keys.PublicKeyInfo = field(compare=False, repr=False)
    """The public key (left out of ``==`` — asn1crypto values compare by identity and
    ``key_id`` already identifies the key — and of ``repr``, to keep log lines short)."""


@dataclass(frozen=True, eq=False, repr=False)
class StoredKey:
    """A signer handle for a key in a :class:`FileKeyStore`: signs, never exports.

    It wraps the loaded :class:`SoftwareKey` so that callers get only the
    :class:`SigningKey` surface (``SoftwareKey.pkcs8_der`` is for the store alone).  It is
    immutable, so one handle may sign from many threads at once.
    """

    key_id: str
    _key: SoftwareKey

    def __repr__(self) -> str:
        return f"StoredKey({self.key_id}, {self._key.key_algorithm.value})"

    @property
    def key_algorithm(self) -> KeyAlgorithm:
        return self._key.key_algorithm

    @property
    def public_key_info(self) -> keys.PublicKeyInfo:
        return self._key.public_key_info

    def sign(self, data: bytes, scheme: SignatureScheme | None = None) -> bytes:
        """Sign ``data`` (the message, not a digest) with ``scheme`` or the key's default."""
        return self._key.sign(data, scheme)


@runtime_checkable
class KeyStore(Protocol):
    """Where private keys live.  Callers get :class:`SigningKey` handles, never key bytes.

    Every method raises :class:`KeyStoreError` (one-line message, no key material) when
    the key is unknown or its storage is unusable.
    """

    def generate(self, algorithm: KeyAlgorithm | str, label: str = "") -> KeyInfo:
        """Create a new key inside the store and return its description."""
        ...

    def signer(self, key_id: str) -> SigningKey:
        """A handle that signs with the key; loaded once per process and reused."""
        ...

    def info(self, key_id: str) -> KeyInfo:
        """Describe one key."""
        ...

    def list(self) -> list[KeyInfo]:
        """Describe all keys, oldest first."""
        ...

    def delete(self, key_id: str) -> None:
        """Destroy a key (e.g. to undo a half-done seal issuance)."""
        ...


class EnvelopeStorage(Protocol):
    """Where an :class:`EnvelopeKeyStore` keeps its header and its key envelopes.

    Both are opaque bytes (JSON documents) to the storage: encryption, authentication and
    parsing stay in :class:`EnvelopeKeyStore`, so every storage holds exactly the same
    envelopes and a store can be moved from one to another by copying bytes.  Failures of
    the medium are :class:`KeyStoreError` with a one-line message.
    """

    def __str__(self) -> str:
        """Where the store is, for messages (a directory, a database without password)."""
        ...

    def prepare(self) -> None:
        """Make the storage usable before a store is created in it (e.g. the directory)."""
        ...

    def read_header(self) -> bytes | None:
        """The header document, ``None`` if no store was created here."""
        ...

    def create_header(self, document: bytes) -> None:
        """Store the header; :class:`FileExistsError` if there is one already."""
        ...

    def key_ids(self) -> list[str]:
        """The ids of all stored envelopes."""
        ...

    def read_envelope(self, key_id: str) -> bytes | None:
        """One envelope, ``None`` if there is none for ``key_id``."""
        ...

    def create_envelope(self, key_id: str, document: bytes) -> None:
        """Store a new envelope; :class:`FileExistsError` if ``key_id`` exists."""
        ...

    def delete_envelope(self, key_id: str) -> bool:
        """Remove an envelope; ``False`` if there was none."""
        ...

    def envelope_name(self, key_id: str) -> str:
        """How messages name one envelope (``key file /…/<id>.key``)."""
        ...


class DirectoryEnvelopes:
    """The single-node layout: ``keystore.json`` and one ``<key_id>.key`` file per key in
    a 0700 directory, each written atomically with mode 0600."""

    __slots__ = ("directory",)

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def __str__(self) -> str:
        return str(self.directory)

    def prepare(self) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)
        except OSError as exc:
            raise KeyStoreError(
                f"cannot create key store directory {self.directory}: {_why(exc)}"
            ) from None

    def read_header(self) -> bytes | None:
        path = self.directory / _STORE_FILE
        return _read_file(path) if path.is_file() else None

    def create_header(self, document: bytes) -> None:
        path = self.directory / _STORE_FILE
        try:
            atomic_write(path, document, 0o600, exclusive=True)
        except FileExistsError:
            raise
        except OSError as exc:
            raise KeyStoreError(f"cannot write {path}: {_why(exc)}") from None

    def key_ids(self) -> list[str]:
        try:
            return [p.name.removesuffix(_KEY_SUFFIX) for p in _key_files(self.directory)]
        except OSError as exc:
            raise KeyStoreError(f"cannot list {self.directory}: {_why(exc)}") from None

    def read_envelope(self, key_id: str) -> bytes | None:
        path = self._path(key_id)
        return _read_file(path) if path.exists() else None

    def create_envelope(self, key_id: str, document: bytes) -> None:
        path = self._path(key_id)
        try:
            atomic_write(path, document, 0o600, exclusive=True)
        except FileExistsError:
            raise
        except OSError as exc:
            raise KeyStoreError(f"cannot write key file {path}: {_why(exc)}") from None

    def delete_envelope(self, key_id: str) -> bool:
        path = self._path(key_id)
        try:
            path.unlink()
            fsync_directory(self.directory)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise KeyStoreError(f"cannot delete key file {path}: {_why(exc)}") from None
        return True

    def envelope_name(self, key_id: str) -> str:
        return f"key file {self._path(key_id)}"

    def _path(self, key_id: str) -> Path:
        return self.directory / f"{key_id}{_KEY_SUFFIX}"


class EnvelopeKeyStore:
    """A :class:`KeyStore` encrypted under a master passphrase, kept in an
    :class:`EnvelopeStorage`.

    Construct it with :meth:`create_in`, :meth:`open_in` or :meth:`open_or_create_in`; the
    master key is derived once there and kept only inside an AES-GCM object.  Loaded keys
    are cached per instance, so each envelope is decrypted and parsed once per process —
    a key id names one key for ever (it is derived from the public key), so the cache can
    never show another node a stale key; the cache is guarded by a lock, which makes the
    store safe to share between threads.
    """

    __slots__ = ("_aead", "_cache", "_lock", "_storage")

    def __init__(self, storage: EnvelopeStorage, aead: AESGCM) -> None:
        """Internal: use :meth:`create_in`, :meth:`open_in` or :meth:`open_or_create_in`."""
        self._storage = storage
        self._aead = aead
        self._cache: dict[str, StoredKey] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self._storage)!r})"

    @property
    def storage(self) -> EnvelopeStorage:
        return self._storage

    # -- construction ----------------------------------------------------------------

    @classmethod
    def create_in(cls, storage: EnvelopeStorage, passphrase: str) -> EnvelopeKeyStore:
        """Initialise a new store in ``storage``.

        Refuses a storage that already holds a store, or envelopes without one (a new
        salt would make them undecryptable).
        """
        secret = _passphrase_bytes(passphrase)
        storage.prepare()
        if storage.read_header() is not None:
            raise KeyStoreError(f"a key store is already initialised at {storage}")
        if storage.key_ids():
            raise KeyStoreError(
                f"{storage} holds key files but no {_STORE_FILE}; not initialising over them"
            )
        salt = os.urandom(16)
        aead = AESGCM(_derive(secret, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P))
        nonce = os.urandom(12)
        document = {
            "format": _FORMAT,
            "version": _VERSION,
            "kdf": {
                "name": "scrypt",
                "n": _SCRYPT_N,
                "r": _SCRYPT_R,
                "p": _SCRYPT_P,
                "salt": _b64(salt),
            },
            "cipher": _CIPHER,
            "verifier": {
                "nonce": _b64(nonce),
                "ciphertext": _b64(aead.encrypt(nonce, _VERIFIER_PLAINTEXT, _VERIFIER_AAD)),
            },
        }
        try:
            storage.create_header(_json_bytes(document))
        except FileExistsError:
            raise KeyStoreError(f"a key store is already initialised at {storage}") from None
        return cls(storage, aead)

    @classmethod
    def open_in(cls, storage: EnvelopeStorage, passphrase: str) -> EnvelopeKeyStore:
        """Open an existing store; :class:`WrongPassphrase` if the passphrase does not fit."""
        secret = _passphrase_bytes(passphrase)
        raw = storage.read_header()
        if raw is None:
            raise KeyStoreError(f"no key store at {storage} ({_STORE_FILE} is missing)")
        where = f"{storage} ({_STORE_FILE})"
        document = _parse_json(raw, where)
        try:
            if document["format"] != _FORMAT or document["version"] != _VERSION:
                raise KeyStoreError(f"{where} is not a version {_VERSION} sealsvc key store")
            if document["cipher"] != _CIPHER:
                raise KeyStoreError(f"{where} names an unsupported cipher")
            kdf = document["kdf"]
            n, r, p = kdf["n"], kdf["r"], kdf["p"]
            if kdf["name"] != "scrypt" or not _kdf_params_ok(n, r, p):
                raise KeyStoreError(f"{where} names unsupported or unsafe KDF parameters")
            salt = _unb64(kdf["salt"])
            nonce = _unb64(document["verifier"]["nonce"])
            verifier = _unb64(document["verifier"]["ciphertext"])
        except (KeyError, TypeError, ValueError):
            raise KeyStoreError(f"{where} is corrupt") from None
        aead = AESGCM(_derive(secret, salt, n, r, p))
        try:
            plaintext = aead.decrypt(nonce, verifier, _VERIFIER_AAD)
        except (InvalidTag, ValueError):
            plaintext = None
        if plaintext != _VERIFIER_PLAINTEXT:
            raise WrongPassphrase(f"wrong master passphrase for the key store at {storage}")
        return cls(storage, aead)

    @classmethod
    def open_or_create_in(cls, storage: EnvelopeStorage, passphrase: str) -> EnvelopeKeyStore:
        """Open the store in ``storage``, initialising it first if there is none."""
        if storage.read_header() is None:
            try:
                return cls.create_in(storage, passphrase)
            except KeyStoreError:
                # Another process (or node) may have initialised it in between; opening
                # settles it (and reports the original problem if there still is no store).
                if storage.read_header() is None:
                    raise
        return cls.open_in(storage, passphrase)

    # -- KeyStore --------------------------------------------------------------------

    def generate(self, algorithm: KeyAlgorithm | str, label: str = "") -> KeyInfo:
        """Generate a key in memory, store it encrypted (exclusively), cache its handle."""
        key_algorithm = parse_key_algorithm(algorithm)
        check_label(label)
        key = algorithms.generate(key_algorithm)
        info = KeyInfo(
            key_id=compute_key_id(key.public_key_info),
            algorithm=key_algorithm,
            label=label,
            created_at=datetime.now(UTC).replace(microsecond=0),
            public_key_info=key.public_key_info,
        )
        metadata = _metadata(info)
        nonce = os.urandom(12)
        ciphertext = self._aead.encrypt(nonce, key.pkcs8_der(), _aad(metadata))
        envelope = {**metadata, "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}
        try:
            self._storage.create_envelope(info.key_id, _json_bytes(envelope))
        except FileExistsError:
            raise KeyStoreError(f"key {info.key_id} already exists in {self._storage}") from None
        with self._lock:
            self._cache[info.key_id] = StoredKey(info.key_id, key)
        return info

    def signer(self, key_id: str) -> StoredKey:
        """The cached handle for ``key_id``, decrypting the envelope on first use."""
        check_key_id(key_id)
        with self._lock:
            handle = self._cache.get(key_id)
            if handle is None:
                info, pkcs8 = self._read(key_id)
                name = self._storage.envelope_name(key_id)
                handle = StoredKey(key_id, _load(info, pkcs8, name))
                self._cache[key_id] = handle
            return handle

    def info(self, key_id: str) -> KeyInfo:
        """Describe ``key_id``; the envelope is authenticated, so the answer can be trusted."""
        check_key_id(key_id)
        return self._read(key_id)[0]

    def list(self) -> list[KeyInfo]:
        """All keys, oldest first; a corrupt envelope is reported, not skipped."""
        infos = [self._read(key_id)[0] for key_id in self._storage.key_ids()]
        return sorted(infos, key=lambda i: (i.created_at, i.key_id))

    def delete(self, key_id: str) -> None:
        """Remove the envelope and forget the cached handle."""
        check_key_id(key_id)
        with self._lock:
            try:
                if not self._storage.delete_envelope(key_id):
                    raise self._missing(key_id)
            finally:
                self._cache.pop(key_id, None)

    # -- internals -------------------------------------------------------------------

    def _missing(self, key_id: str) -> KeyStoreError:
        return KeyStoreError(f"no key {key_id} in the key store at {self._storage}")

    def _read(self, key_id: str) -> tuple[KeyInfo, bytes]:
        """Parse and authenticate an envelope: its description and the decrypted PKCS#8."""
        raw = self._storage.read_envelope(key_id)
        if raw is None:
            raise self._missing(key_id)
        name = self._storage.envelope_name(key_id)
        envelope = _parse_json(raw, name)
        corrupt = KeyStoreError(f"{name} is corrupt")
        try:
            if envelope["version"] != _VERSION:
                raise corrupt
            public_key_der = _unb64(envelope["public_key"])
            created_at = datetime.fromisoformat(envelope["created_at"])
            info = KeyInfo(
                key_id=envelope["key_id"],
                algorithm=KeyAlgorithm(envelope["algorithm"]),
                label=envelope["label"],
                created_at=created_at,
                public_key_info=keys.PublicKeyInfo.load(public_key_der, strict=True),
            )
            nonce = _unb64(envelope["nonce"])
            ciphertext = _unb64(envelope["ciphertext"])
            if (
                not isinstance(info.label, str)
                or created_at.tzinfo is None
                or info.key_id != key_id
                or compute_key_id(info.public_key_info) != key_id
            ):
                raise corrupt
        except (KeyError, TypeError, ValueError):
            raise corrupt from None
        try:
            pkcs8 = self._aead.decrypt(nonce, ciphertext, _aad(envelope))
        except (InvalidTag, ValueError):
            raise KeyStoreError(
                f"{name} is corrupt or was altered (authentication failed)"
            ) from None
        return info, pkcs8


class FileKeyStore(EnvelopeKeyStore):
    """An :class:`EnvelopeKeyStore` in a directory (:class:`DirectoryEnvelopes`): the
    single-node layout, and what SQLite data directories keep."""

    __slots__ = ()

    @property
    def directory(self) -> Path:
        return Path(str(self._storage))

    @classmethod
    def create(cls, directory: Path, passphrase: str) -> FileKeyStore:
        """Initialise a new store in ``directory`` (created with mode 0700 if needed)."""
        return cls.create_in(DirectoryEnvelopes(directory), passphrase)  # type: ignore[return-value]

    @classmethod
    def open(cls, directory: Path, passphrase: str) -> FileKeyStore:
        """Open an existing store; :class:`WrongPassphrase` if the passphrase does not fit."""
        return cls.open_in(DirectoryEnvelopes(directory), passphrase)  # type: ignore[return-value]

    @classmethod
    def open_or_create(cls, directory: Path, passphrase: str) -> FileKeyStore:
        """Open the store in ``directory``, initialising it first if there is none."""
        return cls.open_or_create_in(DirectoryEnvelopes(directory), passphrase)  # type: ignore[return-value]


def _load(info: KeyInfo, pkcs8: bytes, name: str) -> SoftwareKey:
    """Rebuild the key and make sure it is the key the envelope claims to hold."""
    try:
        key = algorithms.load_pkcs8(info.algorithm, pkcs8)
    except (ValueError, TypeError, PkiError):
        raise KeyStoreError(f"{name} holds an unreadable {info.algorithm.value} key") from None
    if key.public_key_info.dump() != info.public_key_info.dump():
        raise KeyStoreError(f"{name}: private key does not match its public key")
    return key


def _metadata(info: KeyInfo) -> dict[str, Any]:
    return {
        "version": _VERSION,
        "key_id": info.key_id,
        "algorithm": info.algorithm.value,
        "label": info.label,
        "created_at": info.created_at.isoformat(),
        "public_key": _b64(info.public_key_info.dump()),
    }


def _aad(envelope: dict[str, Any]) -> bytes:
    """GCM associated data: every metadata field of the key file, canonically encoded."""
    bound = {
        k: envelope[k]
        for k in ("version", "key_id", "algorithm", "label", "created_at", "public_key")
    }
    return _KEY_AAD_PREFIX + json.dumps(bound, sort_keys=True, separators=(",", ":")).encode()


def _derive(secret: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(secret)


def _kdf_params_ok(n: Any, r: Any, p: Any) -> bool:
    ints = all(type(v) is int for v in (n, r, p))
    return (
        ints
        and n & (n - 1) == 0
        and _SCRYPT_N_RANGE[0] <= n <= _SCRYPT_N_RANGE[1]
        and _SCRYPT_R_RANGE[0] <= r <= _SCRYPT_R_RANGE[1]
        and _SCRYPT_P_RANGE[0] <= p <= _SCRYPT_P_RANGE[1]
    )


def _passphrase_bytes(passphrase: str) -> bytes:
    """UTF-8 of the NFC form: the same passphrase typed on another system (or input
    method) may arrive in another Unicode normalisation and must still open the store."""
    if not isinstance(passphrase, str) or not passphrase:
        raise KeyStoreError("the master passphrase must be a non-empty string")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def parse_key_algorithm(algorithm: KeyAlgorithm | str) -> KeyAlgorithm:
    """The :class:`KeyAlgorithm` for a value or name, or an error listing the choices
    (shared by every key store, so all refuse an unknown type in the same words)."""
    try:
        return KeyAlgorithm(algorithm)
    except ValueError:
        choices = ", ".join(a.value for a in KeyAlgorithm)
        raise UnsupportedAlgorithm(
            f"unknown key algorithm {algorithm!r}; use one of {choices}"
        ) from None


def check_label(label: str) -> None:
    """Refuse a label no store should keep: too long, or with control characters that
    would forge lines in logs and tables."""
    if not isinstance(label, str) or len(label) > _MAX_LABEL:
        raise KeyStoreError(f"a key label must be a string of at most {_MAX_LABEL} characters")
    if any(unicodedata.category(c) == "Cc" for c in label):
        raise KeyStoreError("a key label must not contain control characters")


def check_key_id(key_id: str) -> None:
    """Refuse anything but 40 lowercase hex characters: key ids become file names and
    token ``CKA_ID`` bytes, so ``../x`` or odd lengths must stop here."""
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        shown = repr(key_id)[:60] if isinstance(key_id, str) else type(key_id).__name__
        raise KeyStoreError(f"invalid key id {shown}: expected 40 lowercase hex characters")


def _key_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.iterdir()
        if p.name.endswith(_KEY_SUFFIX) and _KEY_ID.fullmatch(p.name.removesuffix(_KEY_SUFFIX))
    )


def _read_file(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            raw = f.read(_MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyStoreError(f"cannot read {path}: {_why(exc)}") from None
    return raw


def _parse_json(raw: bytes, where: object) -> dict[str, Any]:
    """A header or envelope document; ``where`` names it in the error."""
    if len(raw) > _MAX_FILE_BYTES:
        raise KeyStoreError(f"{where} is corrupt (larger than {_MAX_FILE_BYTES} bytes)")
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise KeyStoreError(f"{where} is corrupt (not valid JSON)") from None
    if not isinstance(document, dict):
        raise KeyStoreError(f"{where} is corrupt (not a JSON object)")
    return document


def _json_bytes(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError("base64 field is not a string")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError("bad base64") from exc


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
