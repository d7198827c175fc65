"""How a licence's registry status reads in Chinese, the same on every page and report.

One place for the words, so that the QR page, the upload verdict, ``POST /v1/verify`` and
``sealctl verify`` cannot disagree on whether a licence still counts: 吊销 (revoked, a
sanction) and 注销 (cancelled) are named as recorded; a licence annulled before the kind
was recorded reads 吊销或注销 rather than a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pki.clock import CHINA_TIME
from sealsvc.models import AnnulKind, Licence, LicenceStatus

__all__ = ["VersionState", "annulled_phrase", "no_longer_valid", "status_label"]


@dataclass(frozen=True)
class VersionState:
    """The registry status of one version of a licence."""

    version: int
    status: str
    annul_kind: str | None
    changed_at: datetime | None

    @classmethod
    def of(cls, row: Licence) -> VersionState:
        return cls(row.version, row.status, row.annul_kind, row.status_changed_at)


def _verb(kind: str | None) -> str:
    return AnnulKind(kind).chinese if kind else "吊销或注销"


def _day(moment: datetime) -> str:
    return moment.astimezone(CHINA_TIME).strftime("%Y-%m-%d")


def annulled_phrase(kind: str | None, at: datetime | None) -> str:
    """``已于 2026-12-04 被注销`` (Beijing date)."""
    return f"已于 {_day(at)} 被{_verb(kind)}" if at else f"已被{_verb(kind)}"


def status_label(status: str, kind: str | None = None) -> str:
    """The badge: 有效, 已吊销, 已注销 (已吊销/注销 when the kind is unknown), 已变更."""
    if status == LicenceStatus.ANNULLED:
        return f"已{AnnulKind(kind).chinese}" if kind else "已吊销/注销"
    labels: dict[str, str] = {LicenceStatus.VALID: "有效", LicenceStatus.SUPERSEDED: "已变更"}
    return labels.get(status, status)


def no_longer_valid(state: VersionState, latest: VersionState) -> str | None:
    """Why a file of version ``state`` no longer counts; ``None`` while it is valid.

    ``该证照已于 2026-12-04 被注销，不再有效。`` or, for a version replaced by a re-issue,
    ``该证照已于 … 变更，此文件为第1版，已由第2版取代，不再有效。``
    """
    if state.status == LicenceStatus.ANNULLED:
        return f"该证照{annulled_phrase(state.annul_kind, state.changed_at)}，不再有效。"
    if state.status != LicenceStatus.SUPERSEDED:
        return None
    when = f"已于 {_day(state.changed_at)} 变更" if state.changed_at else "已变更"
    latest_too = (
        f"，且第{latest.version}版也{annulled_phrase(latest.annul_kind, latest.changed_at)}"
        if latest.status == LicenceStatus.ANNULLED
        else ""
    )
    return (
        f"该证照{when}，此文件为第{state.version}版，已由第{latest.version}版取代"
        f"{latest_too}，不再有效。"
    )
