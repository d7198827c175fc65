"""The default time source of the trust services: the system clock, in UTC.

The TSA and the OCSP responder take a ``clock`` callable instead of calling
``datetime.now`` themselves, so tests can move time and an operator can plug in a
disciplined source; this is the one default they share.
"""

from datetime import UTC, datetime

__all__ = ["now_utc"]


def now_utc() -> datetime:
    """The current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)
