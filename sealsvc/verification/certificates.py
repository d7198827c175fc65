"""Certificates by their DER: one parsed object per certificate, shared across documents.

asn1crypto parses lazily and remembers what it has parsed *in the object*: extensions,
validity, the serial number, the key, hashes of the encoding.  A certificate read afresh
from each document is parsed afresh — keyUsage, EKU, validity and names for every seal
and time-stamp, though the city's seals, TSAs and CAs come back in every licence.
:func:`shared_certificate` hands out one object per encoding, so that work is done once per
process.  The object depends on the bytes alone (nothing about trust, revocation or
time), so it can never carry a verdict from one document to another.
"""

from __future__ import annotations

import functools

from asn1crypto import x509

__all__ = ["clear_cache", "shared_certificate"]


@functools.lru_cache(maxsize=2048)
def shared_certificate(der: bytes) -> x509.Certificate:
    """The certificate encoded by ``der``, parsed once per process (LRU, thread-safe).

    Callers only read it; asn1crypto's lazy parsing fills in the same values whichever
    thread gets there first.
    """
    return x509.Certificate.load(der)


def clear_cache() -> None:
    """Forget every parsed certificate (a benchmark's cold start)."""
    shared_certificate.cache_clear()
