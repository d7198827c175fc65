"""ofdrw's ``ofd_check`` (OFDValidator, the Chinese OFD ecosystem's reference) on our files.

It lives in ``shared/ofdrw`` beside the repository (CI has it); tests that need it carry
:data:`needs_ofd_check`, so without it they skip and say why."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ofd.package import OfdPackage

REPO = Path(__file__).resolve().parents[2]


OFD_CHECK = next(
    (
        folder / "shared" / "ofdrw" / "ofd_check"
        for folder in REPO.parents
        if (folder / "shared" / "ofdrw" / "ofd_check").is_file()
    ),
    None,
)


needs_ofd_check = pytest.mark.skipif(
    OFD_CHECK is None,
    reason="ofdrw's ofd_check not found in shared/ofdrw beside the repository (CI has it)",
)


def run_ofd_check(files: dict[str, OfdPackage], folder: Path) -> dict[str, str]:
    """Run ofd_check once over all ``files``; return each file's output line."""
    paths = {}
    for name, package in files.items():
        path = folder / f"{name}.ofd"
        path.write_bytes(package.to_bytes())
        paths[str(path)] = name
    assert OFD_CHECK is not None
    run = subprocess.run(
        [str(OFD_CHECK), *paths], capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode in (0, 1), run.stderr
    lines = {}
    for line in run.stdout.splitlines():
        path = line.partition(" ")[2].split(": ", 1)[0]
        if path in paths:
            lines[paths[path]] = line
    assert set(lines) == set(files), run.stdout
    return lines
