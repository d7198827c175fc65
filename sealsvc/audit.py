"""The tamper-evident audit log: an append-only, hash-chained record of every state change.

Each :class:`~sealsvc.models.AuditEntry` stores SHA-256 over a canonical encoding of its
fields, and those fields include ``prev_hash``, the hash of the entry before it. Editing,
deleting, inserting or reordering an entry therefore breaks the chain at a place
:func:`verify` can name. The chain head (``audit_head``: newest seq and hash) catches
entries cut from, or added to, the end.

Rules for callers:

* Call :func:`append` inside the transaction that makes the change (``with
  db.session() as s: ...; audit.append(s, ...)``): the entry commits with the change or not
  at all, and a failed change leaves no entry.
* Appending serialises on the chain head: ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite
  the transaction already holds the database write lock (``BEGIN IMMEDIATE``, see
  :mod:`sealsvc.db`), so do not append in a ``read_only`` session. The lock is held until
  the caller commits, so ``seq`` is gap-free even with concurrent writers.

A hash chain shows tampering by someone who edits rows; someone who rewrites the whole
chain *and* the head is caught only by comparing the head with a copy kept elsewhere
(``sealctl audit verify --json`` prints it; operators may publish or log it).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealsvc.errors import InvalidInput
from sealsvc.models import AuditEntry, AuditHead, utcnow

__all__ = [
    "GENESIS_HASH",
    "AuditProblem",
    "AuditReport",
    "append",
    "canonical_bytes",
    "cli_actor",
    "compute_hash",
    "entry_to_dict",
    "exported_hash",
    "lock_chain",
    "query",
    "verify",
]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of entry 1 (and the head's hash while the log is empty)."""

FORMAT_VERSION = 1
"""Part of every hashed encoding, so a future encoding cannot be confused with this one."""

_HEX_DIGEST = re.compile(r"[0-9a-f]{40,128}")


def cli_actor() -> str:
    """The actor recorded for a ``sealctl`` command: ``cli:<OS user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (containers)
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


# --- canonical encoding ---------------------------------------------------------------------


def _format_time(at: datetime) -> str:
    """Fixed-width UTC with microseconds: the same text for the same instant on every DB."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_json_value(value: Any, where: str) -> None:
    """Accept only what encodes one way: no floats (``0.1`` has several spellings)."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json_value(item, f"{where}[{index}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"audit details {where}: keys must be strings, not {key!r}")
            _check_json_value(item, f"{where}.{key}")
        return
    raise TypeError(
        f"audit details {where}: {type(value).__name__} is not allowed "
        "(use str, int, bool, None, lists and objects)"
    )


def _json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def canonical_bytes(entry: AuditEntry) -> bytes:
    """The bytes an entry's hash covers: UTF-8 JSON, sorted keys, no whitespace.

    ``details`` is included as the parsed object, so the hash does not depend on how the
    JSON text happens to be spaced, only on what it says.
    """
    return _json({"v": FORMAT_VERSION, **_entry_fields(entry)}).encode("utf-8")


def _entry_fields(entry: AuditEntry) -> dict[str, Any]:
    """The recorded fields of an entry (everything but its own hash), ``details`` parsed.

    One list for both the hashed form and the JSON view, so a field added to one cannot
    be forgotten in the other.
    """
    return {
        "seq": entry.seq,
        "at": _format_time(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "seal_code": entry.seal_code,
        "department_code": entry.department_code,
        "document_hash": entry.document_hash,
        "details": json.loads(entry.details),
        "prev_hash": entry.prev_hash,
    }


def compute_hash(entry: AuditEntry) -> str:
    """Hex SHA-256 of :func:`canonical_bytes`."""
    return hashlib.sha256(canonical_bytes(entry)).hexdigest()


_HASHED_FIELDS = ("seq", "at", "actor", "action", "seal_code", "department_code",
                  "document_hash", "details", "prev_hash")  # fmt: skip


def exported_hash(entry: Mapping[str, Any]) -> str:
    """The hash of an entry given in its JSON view (:func:`entry_to_dict`), so an exported
    chain segment can be checked years later without the database.  Raises ``KeyError``
    or ``TypeError`` for a view that lacks a field or holds what the encoding forbids."""
    fields = {name: entry[name] for name in _HASHED_FIELDS}
    _check_json_value(fields, "entry")
    return hashlib.sha256(_json({"v": FORMAT_VERSION, **fields}).encode("utf-8")).hexdigest()


# --- append ---------------------------------------------------------------------------------


def _locked_head(session: Session) -> AuditHead:
    statement = (
        select(AuditHead)
        .where(AuditHead.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.execute(statement).scalar_one()


def lock_chain(session: Session) -> None:
    """Take the chain-head lock now, before the append that would take it anyway.

    Every audited change holds this lock from its first entry until it commits, so what
    the caller reads after this call includes every change committed before it, and no
    audited change can commit until the caller's transaction ends.
    """
    _locked_head(session)


def append(
    session: Session,
    *,
    action: str,
    actor: str,
    seal_code: str | None = None,
    department_code: str | None = None,
    document_hash: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add the next entry to the chain inside the caller's transaction and return it.

    ``action`` is a dotted verb (``seal.issue``, ``dept.rename`` …); ``details`` a JSON
    object of strings, integers, booleans, ``None``, lists and objects (no floats).
    ``document_hash`` is a lowercase hex digest (SHA-256/SM3/SHA-384/SHA-512).
    """
    if not action or not actor:
        raise ValueError("an audit entry needs an action and an actor")
    details = dict(details or {})
    _check_json_value(details, "details")
    if document_hash is not None:
        document_hash = document_hash.lower()
        if not _HEX_DIGEST.fullmatch(document_hash):
            raise InvalidInput(f"document hash {document_hash!r} is not a hex digest")
    head = _locked_head(session)
    entry = AuditEntry(
        seq=head.seq + 1,
        at=utcnow(),
        actor=actor,
        action=action,
        seal_code=seal_code,
        department_code=department_code,
        document_hash=document_hash,
        details=_json(details),
        prev_hash=head.entry_hash,
    )
    entry.entry_hash = compute_hash(entry)
    session.add(entry)
    head.seq, head.entry_hash = entry.seq, entry.entry_hash
    session.flush()
    return entry


# --- verify ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditProblem:
    """One place where the stored log differs from an untouched chain."""

    seq: int
    """The entry the problem is about (for missing entries: the first missing seq)."""

    kind: str
    """``modified`` (content does not match its hash: edited or moved to another seq),
    ``rewritten`` (self-consistent, but not the entry its successor committed to),
    ``missing`` (seq gap or cut from the end), ``unexpected`` (seq outside the chain or not
    recorded by the chain head: inserted)."""

    message: str
    """One operator-readable sentence naming the entry."""

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class AuditReport:
    """The result of :func:`verify`; ``intact`` when no problem was found."""

    entries: int
    """How many entries the log holds."""

    head_seq: int
    """The newest seq according to the chain head."""

    head_hash: str
    """The newest hash according to the chain head: keep a copy elsewhere to anchor the log."""

    problems: tuple[AuditProblem, ...] = field(default=())
    """Every problem found, in seq order."""

    @property
    def intact(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "entries": self.entries,
            "head": {"seq": self.head_seq, "entry_hash": self.head_hash},
            "problems": [problem.as_dict() for problem in self.problems],
        }


def _content_hash(entry: AuditEntry) -> str | None:
    try:
        return compute_hash(entry)
    except (ValueError, TypeError):  # details no longer JSON, or a NULL forced in
        return None


def _seq_range(first: int, last: int) -> str:
    return f"entry {first} is" if first == last else f"entries {first}..{last} are"


def verify(session: Session) -> AuditReport:
    """Recompute the whole chain and name every entry that was modified, deleted, inserted
    or moved; see :class:`AuditProblem` for the kinds."""
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True)
    ).scalar_one()
    problems: list[AuditProblem] = []
    expected_seq, prev_hash = 1, GENESIS_HASH
    previous: AuditEntry | None = None  # the last entry whose own hash checked out
    count = 0
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).yield_per(500)
    for entry in entries:
        count += 1
        if entry.seq < expected_seq:
            problems.append(
                AuditProblem(entry.seq, "unexpected", f"entry {entry.seq}: seq before 1, inserted")
            )
            continue
        if entry.seq > expected_seq:
            missing = _seq_range(expected_seq, entry.seq - 1)
            problems.append(AuditProblem(expected_seq, "missing", f"{missing} missing (deleted)"))
        self_consistent = _content_hash(entry) == entry.entry_hash
        if entry.seq == expected_seq and self_consistent and entry.prev_hash != prev_hash:
            # Self-consistent, yet it committed to another predecessor: the predecessor was
            # rewritten with a recomputed hash (reported only if it looked intact itself).
            if previous is not None:
                problems.append(
                    AuditProblem(
                        previous.seq,
                        "rewritten",
                        f"entry {previous.seq} ({previous.action}) was rewritten: entry "
                        f"{entry.seq} committed to a different hash for it",
                    )
                )
            elif entry.seq == 1:
                problems.append(
                    AuditProblem(1, "modified", "entry 1: prev_hash is not the genesis hash")
                )
        if not self_consistent:
            problems.append(
                AuditProblem(
                    entry.seq,
                    "modified",
                    f"entry {entry.seq} ({entry.action}) was modified: its content does not "
                    "match its hash (edited, or moved to another seq)",
                )
            )
        previous = entry if self_consistent else None
        expected_seq, prev_hash = entry.seq + 1, entry.entry_hash
    last_seq = expected_seq - 1
    if head.seq > last_seq:
        problems.append(
            AuditProblem(
                last_seq + 1,
                "missing",
                f"{_seq_range(last_seq + 1, head.seq)} missing: the chain head records "
                f"seq {head.seq} (deleted from the end)",
            )
        )
    elif head.seq < last_seq:
        problems.append(
            AuditProblem(
                head.seq + 1,
                "unexpected",
                f"{_seq_range(head.seq + 1, last_seq)} not recorded by the chain head "
                "(appended outside sealsvc)",
            )
        )
    elif head.entry_hash != prev_hash:
        problems.append(
            AuditProblem(
                last_seq,
                "rewritten",
                f"entry {last_seq} is not the entry the chain head committed to (rewritten)",
            )
        )
    problems.sort(key=lambda problem: problem.seq)
    return AuditReport(count, head.seq, head.entry_hash, tuple(problems))


# --- query ----------------------------------------------------------------------------------


def query(
    session: Session,
    *,
    seal_code: str | None = None,
    department_code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    """Entries in seq order matching every given filter.

    ``since`` is inclusive, ``until`` exclusive; ``action`` matches exactly, or as a
    prefix when it ends in ``*`` (``seal.*``). ``limit`` keeps the newest ``limit``.
    """
    statement = select(AuditEntry)
    if seal_code is not None:
        statement = statement.where(AuditEntry.seal_code == seal_code)
    if department_code is not None:
        statement = statement.where(AuditEntry.department_code == department_code)
    if since is not None:
        statement = statement.where(AuditEntry.at >= since)
    if until is not None:
        statement = statement.where(AuditEntry.at < until)
    if action is not None:
        if action.endswith("*"):
            statement = statement.where(AuditEntry.action.startswith(action[:-1], autoescape=True))
        else:
            statement = statement.where(AuditEntry.action == action)
    if limit is not None:
        newest = statement.order_by(AuditEntry.seq.desc()).limit(limit)
        return sorted(session.scalars(newest), key=lambda entry: entry.seq)
    return list(session.scalars(statement.order_by(AuditEntry.seq)))


def entry_to_dict(entry: AuditEntry) -> dict[str, Any]:
    """An entry as JSON-ready data (``details`` parsed, time in the hashed format)."""
    return {**_entry_fields(entry), "entry_hash": entry.entry_hash}
