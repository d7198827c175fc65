"""One object that wires settings, database, key store and CA together for a process.

The CLI builds one per invocation, the API one per worker; tests build them on temporary
data directories.  The key store is opened lazily, so commands that need no key (listing
departments, reading the audit log) do not ask for the passphrase.
"""

from __future__ import annotations

from functools import cached_property

from pki.keystore import DirectoryEnvelopes, EnvelopeKeyStore, EnvelopeStorage, KeyStore
from pki.pkcs11_keystore import CompositeKeyStore, Pkcs11KeyStore
from sealsvc import datadir
from sealsvc.ca import CertificateAuthority
from sealsvc.config import Settings
from sealsvc.db import Database, open_database
from sealsvc.key_envelopes import DatabaseEnvelopes

__all__ = ["ServiceContext"]


class ServiceContext:
    """Settings plus the long-lived resources built from them."""

    def __init__(self, settings: Settings, keystore: KeyStore | None = None) -> None:
        self.settings = settings
        if keystore is not None:
            self.__dict__["keystore"] = keystore

    @cached_property
    def database(self) -> Database:
        return open_database(self.settings)

    @cached_property
    def keystore(self) -> KeyStore:
        """The software key store, behind a :class:`CompositeKeyStore` with the PKCS#11
        token when one is configured: new RSA and ECDSA keys (seal, CA, OCSP, TSA) are
        then made in the token, SM2 keys stay in software unless the token has SM2."""
        datadir.prepare(self.settings)
        software = EnvelopeKeyStore.open_or_create_in(
            self.envelope_storage, self.settings.passphrase()
        )
        token = self.token
        return software if token is None else CompositeKeyStore(token, software)

    @cached_property
    def envelope_storage(self) -> EnvelopeStorage:
        """Where the software key store keeps its envelopes: the database when it is
        shared by several nodes (PostgreSQL), else ``keys/`` in the data directory."""
        if self.database.is_shared:
            return DatabaseEnvelopes(self.database)
        return DirectoryEnvelopes(self.settings.keys_dir)

    @cached_property
    def token(self) -> Pkcs11KeyStore | None:
        """The configured PKCS#11 token store (logged in), or ``None``."""
        config = self.settings.pkcs11()
        return None if config is None else Pkcs11KeyStore(config)

    @cached_property
    def ca(self) -> CertificateAuthority:
        return CertificateAuthority(self.settings, lambda: self.keystore)

    def close(self) -> None:
        if "database" in self.__dict__:
            self.database.dispose()
