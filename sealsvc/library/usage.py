"""Usage report for officers: which department used which licences, and why.

Read from the audit log (the uses are audited one by one, :mod:`.sharing`): per department,
per 用证事由 and business item, how many lookups, face readings, downloads and checks, and
how many refusals.  ``sealctl library usage`` prints it.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealsvc.models import AuditEntry

__all__ = ["USES", "usage_report"]

USES = {
    "library.lookup": "lookups",
    "library.face": "faces",
    "library.file": "files",
    "library.check": "checks",
    "library.refused": "refused",
}
"""Audit actions of departments' uses, and the report's column for each."""


def usage_report(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    department: str | None = None,
) -> list[dict[str, Any]]:
    """One row per (department, purpose, item code): counts per kind of use, first and last
    time; rows ordered by department, then most uses first."""
    query = select(AuditEntry).where(AuditEntry.action.in_(USES)).order_by(AuditEntry.seq)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if department is not None:
        query = query.where(AuditEntry.department_code == department)
    counts: dict[tuple[str, str, str], Counter[str]] = {}
    times: dict[tuple[str, str, str], list[datetime]] = {}
    for entry in session.scalars(query):
        details = json.loads(entry.details)
        key = (
            entry.department_code or "",
            details.get("purpose") or "",
            details.get("item_code") or "",
        )
        counts.setdefault(key, Counter())[USES[entry.action]] += 1
        span = times.setdefault(key, [entry.at, entry.at])
        span[1] = entry.at
    rows = [
        {
            "department": key[0],
            "purpose": key[1],
            "item_code": key[2],
            **{column: counts[key][column] for column in USES.values()},
            "total": sum(counts[key].values()),
            "first": times[key][0].isoformat(),
            "last": times[key][1].isoformat(),
        }
        for key in counts
    ]
    return sorted(rows, key=lambda row: (row["department"], -row["total"], row["purpose"]))
