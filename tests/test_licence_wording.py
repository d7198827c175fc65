"""The Chinese words for a licence's registry status, shared by every page and report."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sealsvc.licences.wording import VersionState, annulled_phrase, no_longer_valid, status_label

LATE_EVENING_UTC = datetime(2026, 12, 3, 20, 30, tzinfo=UTC)
"""Already 2026-12-04 in Beijing: the date printed must be Beijing's."""


@pytest.mark.parametrize(
    ("kind", "label", "verb"),
    [("revoked", "已吊销", "被吊销"), ("cancelled", "已注销", "被注销"),
     (None, "已吊销/注销", "被吊销或注销")],  # annulled before the kind was recorded
)  # fmt: skip
def test_annulled_names_its_kind_and_beijing_date(kind: str | None, label: str, verb: str) -> None:
    assert status_label("annulled", kind) == label
    annulled = VersionState(1, "annulled", kind, LATE_EVENING_UTC)
    assert no_longer_valid(annulled, annulled) == f"该证照已于 2026-12-04 {verb}，不再有效。"
    assert annulled_phrase(kind, None) == f"已{verb}"


def test_a_superseded_version_names_its_successor_and_the_successors_fate() -> None:
    old = VersionState(1, "superseded", None, LATE_EVENING_UTC)
    current = VersionState(2, "valid", None, None)
    assert no_longer_valid(old, current) == (
        "该证照已于 2026-12-04 变更，此文件为第1版，已由第2版取代，不再有效。"
    )
    revoked = VersionState(2, "annulled", "revoked", datetime(2027, 1, 5, 2, tzinfo=UTC))
    assert no_longer_valid(old, revoked) == (
        "该证照已于 2026-12-04 变更，此文件为第1版，已由第2版取代，"
        "且第2版也已于 2027-01-05 被吊销，不再有效。"
    )
    assert status_label("superseded") == "已变更"


def test_a_valid_licence_has_no_sentence() -> None:
    valid = VersionState(1, "valid", None, None)
    assert no_longer_valid(valid, valid) is None and status_label("valid") == "有效"
