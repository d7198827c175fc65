"""Whole-document reports, remembered while nothing that decides them changes.

A report is a function of the file, the trust anchors, the moment of validation, and —
when the registry is consulted or revocation data fetched — of the service's state.  A
cached report is therefore keyed on the file's SHA-256, the anchors' DER and a *state*
token the caller reads from the source of that state (the service passes the head of
its audit log, which every revocation, suspension, resumption and rotation advances),
and it is used only for moments inside the interval it holds for: from the moment it
was computed until the first moment at which a certificate of the document or an anchor
becomes valid or expires, a piece of revocation evidence goes stale, or an algorithm's
end date passes (``valid_until``, worked out by :func:`.validator.verify`) — and at most
``max_age`` (so details such as the newest OCSP answer shown stay recent).  A report
served from the cache keeps the ``validation_time`` it was computed at: it says when it
was worked out, and it still holds now.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import x509

from pki.lru import LruCache
from sealsvc.verification.report import ValidationReport

__all__ = ["VerdictCache"]


@dataclass(frozen=True)
class _Entry:
    report: ValidationReport
    computed_at: datetime
    valid_until: datetime


class VerdictCache:
    """Reports by (file, anchors, state), each for the interval it holds; LRU, thread-safe."""

    def __init__(self, maxsize: int = 256, max_age: timedelta = timedelta(minutes=1)) -> None:
        self.max_age = max_age
        self._entries: LruCache[_Entry] = LruCache(maxsize)

    @staticmethod
    def key(document_sha256: str, anchors: Sequence[x509.Certificate], state: Hashable) -> Hashable:
        anchors_digest = hashlib.sha256(b"".join(sorted(a.dump() for a in anchors))).digest()
        return (document_sha256, anchors_digest, state)

    def get(self, key: Hashable, now: datetime) -> ValidationReport | None:
        entry = self._entries.get(key)
        if entry is None or not entry.computed_at <= now < entry.valid_until:
            return None
        return entry.report

    def put(self, key: Hashable, report: ValidationReport, valid_until: datetime) -> None:
        now = report.validation_time
        self._entries.put(key, _Entry(report, now, min(valid_until, now + self.max_age)))

    @property
    def hits(self) -> int:
        return self._entries.hits

    def __len__(self) -> int:
        return len(self._entries)
