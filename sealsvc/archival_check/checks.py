"""Small helpers every property module uses to state a check's outcome."""

from __future__ import annotations

from collections.abc import Sequence

from sealsvc.archival_check.facts import FileFacts
from sealsvc.archival_check.report import Check, Outcome

__all__ = ["failed", "listed", "not_applicable", "passed", "unreadable", "verdict"]


def passed(check_id: str, name: str, reason: str) -> Check:
    return Check(check_id, name, Outcome.PASS, reason)


def failed(check_id: str, name: str, reason: str) -> Check:
    return Check(check_id, name, Outcome.FAIL, reason)


def not_applicable(check_id: str, name: str, reason: str) -> Check:
    return Check(check_id, name, Outcome.NOT_APPLICABLE, reason)


def listed(findings: Sequence[str], limit: int = 5) -> str:
    """Findings joined for a reason sentence; more than ``limit`` are counted, not listed."""
    shown = "；".join(findings[:limit])
    more = len(findings) - limit
    return shown + (f"；另有 {more} 处" if more > 0 else "")


def verdict(check_id: str, name: str, findings: Sequence[str], ok: str, bad: str) -> Check:
    """Pass with ``ok`` when nothing was found, else fail with ``bad`` and the findings."""
    if findings:
        return failed(check_id, name, f"{bad}：{listed(findings)}")
    return passed(check_id, name, ok)


def unreadable(facts: FileFacts, checks: dict[str, str]) -> tuple[Check, ...]:
    """Each of ``checks`` (id → name) failed because the file could not be opened."""
    reason = facts.problem or "文件无法打开"
    return tuple(failed(check_id, name, reason) for check_id, name in checks.items())
