"""A record's audit entries, with the hash-chain links that prove them, for a package.

Each audit entry's hash covers the hash of the entry before it (:mod:`sealsvc.audit`), so
one entry alone proves little: the package carries *contiguous runs* of the chain around
the record's entries — every entry in a run, also other records' (their hashes are the
links) — one run per burst of the record's activity (issuance, an annulment, a renewal,
an export: entries closer than :data:`RUN_GAP` share a run, so years of other records'
entries between two events are not copied) — and the *anchor*: the chain head when the
package was made and whether the whole log verified then.  The manifest lists
``audit/trail.json`` and the archive seal signs the manifest, so runs and anchor are the
service's signed statement; an auditor can compare each run's hashes with the live log,
and the head with a copy kept elsewhere (``sealctl audit verify --json``).

Offline, :func:`check_trail` recomputes every hash, checks that the entries cover their
runs and every link inside a run, and that the record's entries name the document.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from sealsvc import audit
from sealsvc.models import AuditEntry

__all__ = ["TRAIL", "check_trail", "record_trail"]

TRAIL = "audit/trail.json"
RUN_GAP = 64
"""Record entries closer than this share one contiguous run of the chain."""


def record_trail(
    session: Session, *, document_hashes: set[str], number: str | None
) -> dict[str, Any]:
    """The segment and anchor for the record whose files have ``document_hashes`` (and, for
    a licence, whose ``number`` its entries name)."""
    conditions: list[ColumnElement[bool]] = [AuditEntry.document_hash.in_(sorted(document_hashes))]
    if number is not None:
        conditions.append(AuditEntry.details.contains(json.dumps(number)))
    seqs = sorted(session.scalars(select(AuditEntry.seq).where(or_(*conditions))))
    report = audit.verify(session)
    entries, runs = [], _runs(seqs)
    for first, last in runs:
        run = select(AuditEntry).where(AuditEntry.seq.between(first, last))
        entries += [audit.entry_to_dict(e) for e in session.scalars(run.order_by(AuditEntry.seq))]
    return {
        "format": "sealsvc.audit-segment/1",
        "record_seqs": seqs,
        "runs": [list(run) for run in runs],
        "entries": entries,
        "anchor": {
            "head_seq": report.head_seq,
            "head_hash": report.head_hash,
            "log_intact": report.intact,
        },
    }


def _runs(seqs: list[int]) -> list[tuple[int, int]]:
    """The record's entries grouped into runs of the chain: entries at most :data:`RUN_GAP`
    apart share one run (everything between them included), so the package holds the
    issuance's few entries and each later event's, not years of other records between."""
    runs: list[tuple[int, int]] = []
    for seq in seqs:
        if runs and seq - runs[-1][1] <= RUN_GAP:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs


def check_trail(data: bytes, document_hashes: set[str]) -> list[str]:
    """Why the packaged trail does not prove the record's history (empty: it does)."""
    unreadable = ["the audit trail is not readable JSON of format sealsvc.audit-segment/1"]
    try:
        trail = json.loads(data)
        entries, seqs, anchor = trail["entries"], trail["record_seqs"], trail["anchor"]
        covered = [seq for first, last in trail["runs"] for seq in range(first, last + 1)]
    except (ValueError, KeyError, TypeError):
        return unreadable
    if not (
        isinstance(entries, list)
        and all(isinstance(e, dict) and _is_int(e.get("seq")) for e in entries)
        and isinstance(seqs, list)
        and all(_is_int(seq) for seq in seqs)
        and isinstance(anchor, dict)
        and _is_int(anchor.get("head_seq"))
    ):
        return unreadable
    problems = []
    if not entries:
        return ["the audit trail holds no entry of the record"]
    if [entry["seq"] for entry in entries] != covered:
        problems.append("the audit entries do not cover their runs of the chain (entries missing)")
    by_seq: dict[int, dict[str, Any]] = {}
    previous: dict[str, Any] | None = None
    for entry in entries:
        try:
            recomputed = audit.exported_hash(entry)
        except (KeyError, TypeError):
            return ["an audit entry lacks a field or holds a value the log cannot hold"]
        if recomputed != entry.get("entry_hash"):
            problems.append(f"audit entry {entry.get('seq')} does not match its hash (modified)")
        if previous is not None and entry["seq"] <= previous["seq"]:
            problems.append(f"audit entry {entry['seq']} is out of order")
        elif (
            previous is not None
            and entry["seq"] == previous["seq"] + 1
            and entry["prev_hash"] != previous.get("entry_hash")
        ):
            problems.append(
                f"audit entry {entry['seq']} does not follow entry {previous['seq']} in the chain"
            )
        by_seq[entry["seq"]] = previous = entry
    if not seqs or any(seq not in by_seq for seq in seqs):
        problems.append("the record's audit entries are not all in the segment")
    elif not any(by_seq[seq].get("document_hash") in document_hashes for seq in seqs):
        problems.append("no audit entry of the record names the packaged document's hash")
    if anchor["head_seq"] < entries[-1]["seq"]:
        problems.append("the anchor (chain head) precedes the segment")
    elif not anchor.get("log_intact"):
        problems.append("the service's audit log did not verify when the package was made")
    return problems


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
