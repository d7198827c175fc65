"""ruff's security rules (``S``) are on: a deliberate violation outside tests is caught.

``./test.sh`` runs ``ruff check .`` over the project; this shows that the configuration
it reads (pyproject.toml) still selects the rules, so they cannot be dropped unnoticed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).with_name("ruff")


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        (
            "import subprocess\n\n\ndef run(cmd: str) -> None:\n    subprocess.run(cmd, shell=1)\n",
            "S602",
        ),
        (
            'import hashlib\n\nDIGEST = hashlib.md5(b"x").digest()\n',
            "S324",
        ),
        ("def check(x: int | None) -> int:\n    assert x is not None\n    return x\n", "S101"),
    ],
)
def test_security_rule_catches_a_violation(tmp_path: Path, code: str, rule: str) -> None:
    package = tmp_path / "sealsvc"
    package.mkdir()
    (package / "bad.py").write_text(code)
    result = subprocess.run(
        [str(RUFF), "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"),
         "--output-format", "concise", str(package / "bad.py")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert rule in result.stdout
