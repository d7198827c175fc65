"""The default time source of the trust services: the system clock, in UTC.

The TSA and the OCSP responder take a ``clock`` callable instead of calling
``datetime.now`` themselves, so tests can move time and an operator can plug in a
disciplined source; this is the one default they share.
"""

from datetime import UTC, datetime, timedelta, timezone

__all__ = ["CHINA_TIME", "now_utc"]

CHINA_TIME = timezone(timedelta(hours=8), "CST")
"""China Standard Time (UTC+8, no daylight saving): the time printed on licences, in OFD
dates and in the sentences citizens read."""


def now_utc() -> datetime:
    """The current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)
