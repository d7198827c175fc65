"""The skip policy of tests/helpers/crosschecks.py, run on small test files (pytester)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.crosschecks import REQUIRED_TOOLS, required_tool

SKIPPING = """
import pytest

def test_pdfsig_cross_check():
    pytest.skip("poppler-utils not installed")

def test_zbar_cross_check():
    pytest.skip("zbarimg (zbar-tools) is not installed")

@pytest.mark.skipif(True, reason="SoftHSM2 is not installed (apt-get install softhsm2)")
def test_token():
    pass

@pytest.mark.xfail(reason="pyhanko CLI trips on this", run=False)
def test_known_failure():
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest('pytest_plugins = ["helpers.crosschecks"]\n')
    pytester.makepyfile(test_tools=SKIPPING)
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))  # where helpers/ is
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("SEALSVC_REQUIRE_CROSSCHECKS", raising=False)
    return pytester


def test_outside_ci_a_missing_tool_is_a_skip_with_its_reason(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-rs")
    result.assert_outcomes(skipped=3, xfailed=1)
    result.stdout.fnmatch_lines(["*SKIPPED*poppler-utils not installed*"])


@pytest.mark.parametrize(
    ("variable", "value"), [("CI", "true"), ("SEALSVC_REQUIRE_CROSSCHECKS", "1")]
)
def test_in_ci_a_skipped_required_cross_check_fails(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = suite.runpytest_subprocess("-rs")
    # pdfsig and SoftHSM2 fail; zbarimg is not a required tool; an xfail stays an xfail
    result.assert_outcomes(failed=1, errors=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(
        ["*required cross-check with pdfsig was skipped: poppler-utils not installed*"]
    )
    assert result.ret != 0


@pytest.mark.parametrize(
    ("reason", "tool"),
    [
        ("poppler-utils not installed", "pdfsig"),
        ("pyhanko CLI (pyhanko-cli) is not on PATH", "pyHanko CLI"),
        ("needs /usr/bin/chromium and /usr/bin/chromedriver", "Chromium"),
        ("PostgreSQL server binaries not found in /usr/lib/postgresql/15/bin", "PostgreSQL"),
        ("SoftHSM2 is not installed (Debian: apt-get install softhsm2 opensc)", "SoftHSM2"),
        ("ofdrw's ofd_check not found in shared/ofdrw beside the repository", "ofd_check"),
        ("Info-ZIP unzip is not installed", None),
        ("SQLite takes the write lock at BEGIN: writers queue, nothing races", None),
    ],
)
def test_reasons_name_their_tool(reason: str, tool: str | None) -> None:
    assert required_tool(reason) == tool


def test_every_required_tool_of_the_issue_is_listed() -> None:
    assert set(REQUIRED_TOOLS) == {
        "pdfsig", "pyHanko CLI", "Chromium", "PostgreSQL", "SoftHSM2", "ofd_check",
    }  # fmt: skip
