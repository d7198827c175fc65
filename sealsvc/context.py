"""One object that wires settings, database, key store and CA together for a process.

The CLI builds one per invocation, the API one per worker; tests build them on temporary
data directories.  The key store is opened lazily, so commands that need no key (listing
departments, reading the audit log) do not ask for the passphrase.
"""

from __future__ import annotations

from functools import cached_property

from pki.keystore import FileKeyStore, KeyStore
from sealsvc import datadir
from sealsvc.ca import CertificateAuthority
from sealsvc.config import Settings
from sealsvc.db import Database, open_database

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
        datadir.prepare(self.settings)
        return FileKeyStore.open_or_create(self.settings.keys_dir, self.settings.passphrase())

    @cached_property
    def ca(self) -> CertificateAuthority:
        return CertificateAuthority(self.settings, lambda: self.keystore)

    def close(self) -> None:
        if "database" in self.__dict__:
            self.database.dispose()
