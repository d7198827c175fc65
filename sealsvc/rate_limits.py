"""Per-API-key rate limits: one token bucket per key, in the process or in the database.

A single node (SQLite) keeps the buckets in memory: cheap, and one process per data
directory is the rule there.  Several nodes on one PostgreSQL share the buckets in
``rate_limit_buckets`` (issue #19): otherwise a client spreading its requests over N
nodes would get N times its rate.  Both use the same arithmetic (:func:`refill_and_take`);
the database variant locks the key's row for the few statements of one take, so two nodes
cannot both spend the last token.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, replace

from sqlalchemy import Select, select, text
from sqlalchemy.dialects.postgresql import insert

from sealsvc.db import Database
from sealsvc.models import RateLimitBucket

__all__ = ["Bucket", "DatabaseBuckets", "Empty", "MemoryBuckets", "refill_and_take"]


@dataclass(frozen=True)
class Empty:
    """A refused token: when the next one is due, and whether this opens a run of refusals."""

    retry_after: int
    """Seconds until a token is due (``Retry-After``)."""

    first: bool
    """True for the first refusal since a token was last taken: only that one is audited,
    so a client hammering the service cannot turn each refused request into a write."""


@dataclass(frozen=True)
class Bucket:
    """A key's bucket: tokens left, when they were counted, and whether the last take was
    refused."""

    tokens: float
    updated_at: float
    refused: bool = False


def refill_and_take(
    bucket: Bucket | None, per_minute: int, now: float
) -> tuple[Bucket, Empty | None]:
    """The bucket after one request at ``now``, and the refusal if it had no token.

    A new key starts full; tokens come back at ``per_minute / 60`` a second up to
    ``per_minute``.  A clock that went backwards (another node's) refills nothing.
    """
    rate = per_minute / 60.0
    if bucket is None:
        bucket = Bucket(float(per_minute), now)
    elapsed = max(0.0, now - bucket.updated_at)
    tokens = min(float(per_minute), bucket.tokens + elapsed * rate)
    if tokens >= 1:
        return Bucket(tokens - 1, now), None
    empty = Empty(retry_after=max(1, math.ceil((1 - tokens) / rate)), first=not bucket.refused)
    return replace(bucket, tokens=tokens, updated_at=now, refused=True), empty


class MemoryBuckets:
    """The buckets of one process (monotonic clock), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, Bucket] = {}

    def take(self, key_id: str, per_minute: int) -> Empty | None:
        """Take a token (``None``), or say when the next one is due."""
        with self._lock:
            bucket, empty = refill_and_take(self._state.get(key_id), per_minute, time.monotonic())
            self._state[key_id] = bucket
        return empty


class DatabaseBuckets:
    """The buckets of every node, in the shared PostgreSQL database (wall clock)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def take(self, key_id: str, per_minute: int) -> Empty | None:
        """Take a token (``None``), or say when the next one is due: one short transaction
        holding the key's row, so concurrent requests on several nodes queue on it."""
        now = time.time()
        with self._database.session() as session:
            # A bucket is worth no wait for the WAL flush: after a crash of PostgreSQL it
            # may be a few requests off, which a rate limit can afford, while the flush
            # dominates the take (a lock-and-update transaction: 18.6 ms with the flush,
            # 3.8 ms without, psycopg on a loaded 2-core machine), and one key's
            # requests queue on its row for that long.
            session.execute(text("SET LOCAL synchronous_commit = off"))
            row = session.scalars(self._locked(key_id)).one_or_none()
            if row is None:  # a key's first request anywhere: make its bucket, then lock it
                session.execute(
                    insert(RateLimitBucket)
                    .values(key_id=key_id, tokens=float(per_minute), updated_at=now, refused=False)
                    .on_conflict_do_nothing(index_elements=["key_id"])
                )
                row = session.scalars(self._locked(key_id)).one()
            bucket, empty = refill_and_take(
                Bucket(row.tokens, row.updated_at, row.refused), per_minute, now
            )
            row.tokens, row.updated_at = bucket.tokens, bucket.updated_at
            row.refused = bucket.refused
        return empty

    @staticmethod
    def _locked(key_id: str) -> Select[RateLimitBucket]:
        return select(RateLimitBucket).where(RateLimitBucket.key_id == key_id).with_for_update()
