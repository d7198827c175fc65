"""Certificates by their DER: one parsed object per certificate, shared across documents.

asn1crypto parses lazily and remembers what it has parsed *in the object*: extensions,
validity, the serial number, the key, hashes of the encoding.  A certificate read afresh
from each document is parsed afresh — keyUsage, EKU, validity and names for every seal
and time-stamp, though the city's seals, TSAs and CAs come back in every licence.
:func:`shared_certificate` hands out one object per encoding, so that work is done once
per process.  The object depends on the bytes alone (nothing about trust, revocation or
time), so it can never carry a verdict from one document to another.
"""

from __future__ import annotations

import functools

from asn1crypto import x509

__all__ = ["SharedCertificate", "clear_cache", "shared_certificate"]


class SharedCertificate(x509.Certificate):
    """A certificate that is only read, so its encoding is the DER it was loaded from.

    asn1crypto's ``dump()`` walks every parsed child to see whether one was changed
    before it returns the cached encoding; on a certificate whose extensions, names and
    key have all been parsed, that walk cost more than the rest of a path-cache lookup.
    Nothing changes a shared certificate (``dump(force=True)`` still re-encodes; a copy,
    which may be changed, encodes itself as asn1crypto does).
    """

    _der: bytes | None = None

    @classmethod
    def from_der(cls, der: bytes) -> SharedCertificate:
        certificate = cls.load(der)
        # What load() read, without trailing bytes: the encoding every dump() returned.
        certificate._der = super(SharedCertificate, certificate).dump()
        return certificate

    def dump(self, force: bool = False) -> bytes:
        if force or self._der is None:
            return super().dump(force=force)
        return self._der


@functools.lru_cache(maxsize=2048)
def shared_certificate(der: bytes) -> SharedCertificate:
    """The certificate encoded by ``der``, parsed once per process (LRU, thread-safe).

    Callers only read it; asn1crypto's lazy parsing fills in the same values whichever
    thread gets there first.
    """
    return SharedCertificate.from_der(der)


def clear_cache() -> None:
    """Forget every parsed certificate (a benchmark's cold start)."""
    shared_certificate.cache_clear()
