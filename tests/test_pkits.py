"""NIST PKITS through the one path-validation engine (:func:`pki.chain.validate_path`).

Every line of ``tests/data/pkits/manifest.tsv`` — with its initial policy settings and
revocation switch — must give the manifest's verdict.  ``docs/pkits.md`` is the table this
test produces (``scripts/pkits_table.py`` writes it from :mod:`pkits_cases`).
"""

from __future__ import annotations

import pytest
from pkits_cases import Case, cases, run

CASES = cases()


def test_manifest_is_complete() -> None:
    """The copy in tests/ is the whole manifest: sections 4.1 to 4.16, 246 lines."""
    assert len(CASES) == 246
    assert {c.id[:3] for c in CASES} == {f"4{n:02d}" for n in range(1, 17)}


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_rsa(case: Case) -> None:
    verdict, reason = run(case)
    assert verdict == case.expected, reason
