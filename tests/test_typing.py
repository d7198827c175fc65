"""mypy over the project with its configuration (pyproject.toml), as ``./test.sh`` runs it.

``pki/`` and ``ofd/`` are checked strictly and must be clean. ``sealsvc/`` and ``api/``
are checked in mypy's default mode plus untyped function bodies; the errors found there
when the check was introduced are listed in ``tests/data/mypy-baseline.txt`` (file, error
code, count) and may only go down: a new error, or more of a kind in a file, fails. Fix
an entry and lower or delete its line.

Each mode is also run on a small file that breaks it on purpose, so a configuration that
silently stopped checking would fail here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MYPY = Path(sys.executable).with_name("mypy")
BASELINE = Path(__file__).parent / "data" / "mypy-baseline.txt"
ERROR = re.compile(r"^(?P<file>[\w/.]+\.py):\d+: error: .*\[(?P<code>[\w-]+)\]$")


def _mypy(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MYPY), "--config-file", str(ROOT / "pyproject.toml"), "--no-incremental", *args],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _errors(output: str) -> Counter[tuple[str, str]]:
    return Counter(
        (match["file"], match["code"])
        for line in output.splitlines()
        if (match := ERROR.match(line))
    )


def _baseline() -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for line in BASELINE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            file, code, count = line.split()
            counts[(file, code)] = int(count)
    return counts


@pytest.fixture(scope="module")
def project_errors() -> Counter[tuple[str, str]]:
    result = _mypy()
    assert "error: " in result.stdout or result.returncode == 0, result.stdout + result.stderr
    return _errors(result.stdout)


def test_strict_layers_are_clean(project_errors: Counter[tuple[str, str]]) -> None:
    strict = {key: n for key, n in project_errors.items() if key[0].startswith(("pki/", "ofd/"))}
    assert strict == {}


def test_no_new_errors_elsewhere(project_errors: Counter[tuple[str, str]]) -> None:
    baseline = _baseline()
    grown = {key: n for key, n in project_errors.items() if n > baseline[key]}
    assert grown == {}, "new mypy errors (file, code): count; run mypy to see them"


def test_baseline_lists_no_fixed_errors(project_errors: Counter[tuple[str, str]]) -> None:
    """A fixed error leaves the baseline too, so it cannot come back unnoticed."""
    stale = {key: n for key, n in _baseline().items() if project_errors[key] < n}
    assert stale == {}


@pytest.mark.parametrize(
    ("package", "code", "expected"),
    [
        # strict: a function without annotations
        ("pki", "def double(x):\n    return x * 2\n", "[no-untyped-def]"),
        # basic + check_untyped_defs: a type error inside an unannotated function
        ("sealsvc", "def shout(x):\n    return 'a' + 1\n", "[operator]"),
        # basic: a wrong argument type
        ("api", "def f(x: int) -> int:\n    return x\n\n\nf('one')\n", "[arg-type]"),
    ],
)
def test_each_mode_catches_a_violation(
    tmp_path: Path, package: str, code: str, expected: str
) -> None:
    for name in ("pki", "ofd", "sealsvc", "api"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / package / "bad.py").write_text(code)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = _mypy(cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{package}/bad.py" in result.stdout and expected in result.stdout, result.stdout
