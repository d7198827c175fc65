"""Pytest plugin: in CI a skipped cross-check is a failure, not a quiet pass.

A cross-check runs a tool nobody here wrote (pdfsig, pyHanko's CLI, Chromium,
PostgreSQL, SoftHSM2, ofdrw's ofd_check) over what the service makes. On a developer's
machine without the tool the test skips and says why (``-rs`` lists every reason). Under
``CI=true`` or ``SEALSVC_REQUIRE_CROSSCHECKS=1`` such a skip becomes a failure naming the
tool, so a CI machine that lost a package cannot go green on fewer checks.

A skip is recognised by its reason naming the tool (or the package it comes in), which
every skip of these tests already does to tell a developer what to install.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

REQUIRED_TOOLS: dict[str, tuple[str, ...]] = {
    "pdfsig": ("pdfsig", "poppler"),
    "pyHanko CLI": ("pyhanko",),
    "Chromium": ("chromium", "chromedriver"),
    "PostgreSQL": ("postgresql",),
    "SoftHSM2": ("softhsm",),
    "ofd_check": ("ofd_check",),
}
"""Each required tool, and the words (lower case) by which a skip reason names it."""


def crosschecks_required() -> bool:
    """True where every cross-check must run (CI, or a developer who asks for it)."""
    return (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("SEALSVC_REQUIRE_CROSSCHECKS") == "1"
    )


def required_tool(reason: str) -> str | None:
    """The required tool a skip reason names, if any."""
    words = reason.lower()
    return next(
        (tool for tool, names in REQUIRED_TOOLS.items() if any(n in words for n in names)),
        None,
    )


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and crosschecks_required():
        reason = _skip_reason(report)
        tool = required_tool(reason)
        if tool is not None:
            report.outcome = "failed"
            report.longrepr = f"required cross-check with {tool} was skipped: {reason}"
    return report
