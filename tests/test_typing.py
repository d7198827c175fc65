"""mypy over the project with its configuration (pyproject.toml), as ``./test.sh`` runs it.

Every checked package must be clean: ``pki/`` and ``ofd/`` strictly, ``sealsvc/`` and
``api/`` with every body checked and every function annotated (but the two modules
``[tool.mypy]`` names as not yet annotated).  There is no list of tolerated errors.

Each mode is also run on a small file that breaks it on purpose, so a configuration that
silently stopped checking would fail here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MYPY = Path(sys.executable).with_name("mypy")


def _mypy(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MYPY), "--config-file", str(ROOT / "pyproject.toml"), "--no-incremental", *args],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_the_project_is_clean() -> None:
    result = _mypy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("package", "code", "expected"),
    [
        # strict: a function without annotations
        ("pki", "def double(x):\n    return x * 2\n", "[no-untyped-def]"),
        # strict: a generic without its parameters
        ("ofd", "def names() -> list:\n    return []\n", "[type-arg]"),
        # sealsvc: a function without annotations
        ("sealsvc", "def shout(x):\n    return x\n", "[no-untyped-def]"),
        # sealsvc: a generic without its parameters
        ("sealsvc", "def names() -> dict:\n    return {}\n", "[type-arg]"),
        # sealsvc: None reaching a call that needs a value
        ("sealsvc", "def f(x: str | None) -> int:\n    return len(x)\n", "[arg-type]"),
        # api: a parameter left without its type
        ("api", "def f(x, y: int) -> int:\n    return y\n", "[no-untyped-def]"),
        # api: a wrong argument type
        ("api", "def f(x: int) -> int:\n    return x\n\n\nf('one')\n", "[arg-type]"),
    ],
    ids=["pki-untyped", "ofd-bare-generic", "sealsvc-untyped", "sealsvc-bare-generic",
         "sealsvc-none", "api-partial", "api-argument"],
)  # fmt: skip
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
