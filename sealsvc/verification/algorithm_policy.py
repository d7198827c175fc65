"""Which digest algorithms a signature may rely on, and until when (ETSI TS 119 312 style).

A hash function stops protecting signatures once collisions can be made: a signature made
with it *after* that date proves nothing, one proven to exist *before* (by a time-stamp
with a stronger hash) still does.  The dates follow ETSI TS 119 312 and the default
policy of EU DSS, whose verdicts other validators compare with: MD2/MD5 end with 2004
(MD5 collisions published August 2004), SHA-1 with 2008 (2009-01-01, DSS's default).
SHA-2, SHA-3 and SM3 have no end date yet.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["SUNSET", "digest_problem"]

SUNSET: dict[str, datetime] = {
    "md2": datetime(2005, 1, 1, tzinfo=UTC),
    "md5": datetime(2005, 1, 1, tzinfo=UTC),
    "sha1": datetime(2009, 1, 1, tzinfo=UTC),
}
"""Digest algorithm → the moment from which signatures relying on it are not accepted."""

_NAMES = {"md2": "MD2", "md5": "MD5", "sha1": "SHA-1"}


def digest_problem(algorithm: str | None, proven_at: datetime | None, now: datetime) -> str | None:
    """Why ``algorithm`` cannot be relied on for a signature proven to exist at ``proven_at``.

    Without proof of existence the signature is judged at ``now``.  ``None`` means the
    algorithm is acceptable.
    """
    if algorithm is None or algorithm not in SUNSET:
        return None
    sunset = SUNSET[algorithm]
    moment = proven_at or now
    if moment < sunset:
        return None
    proof = (
        "no time-stamp proves the signature is older"
        if proven_at is None
        else (f"the signature is only proven to exist at {proven_at:%Y-%m-%d}")
    )
    return (
        f"the digest algorithm {_NAMES[algorithm]} is not accepted for signatures after"
        f" {sunset:%Y-%m-%d} (ETSI TS 119 312), and {proof}"
    )
