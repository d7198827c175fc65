"""The README's pdfsig recipe, run literally (issue 14 §6).

The shell block under "Checking a sealed PDF with pdfsig" is taken from README.md as
written and run by bash in a directory laid out as ``./run.sh`` leaves it (``data/`` with
its ``dev-passphrase``, ``sealctl`` on ``PATH``) next to a PDF sealed at B-LTA with
``sealctl sign``.  poppler's ``pdfsig`` must then call the seal valid and its certificate
trusted; without the recipe's CRL step it must not (NSS cannot settle revocation).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.local import TEST_PASSPHRASE
from helpers.pdf_fixtures import ANCHOR, chinese_pdf
from helpers.readme_recipes import pdfsig_recipe

from sealsvc import seals
from sealsvc.context import ServiceContext

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context


@pytest.fixture
def workdir(sqlite_seal_context: ServiceContext, sealctl, tmp_path: Path) -> Path:
    """``tmp_path`` as run.sh leaves a checkout: ``data/`` (dev passphrase) and sealed.pdf."""
    data_dir = sqlite_seal_context.settings.data_dir
    assert data_dir == tmp_path / "data"
    (data_dir / "dev-passphrase").write_text(TEST_PASSPHRASE + "\n")
    code = seals.issue(
        sqlite_seal_context, department="ZZ-D26", kind="公章", algorithm="rsa", actor="test"
    ).code
    (tmp_path / "some.pdf").write_bytes(chinese_pdf())
    signed = sealctl(
        "sign", str(tmp_path / "some.pdf"), "--seal", code, "--level", "B-LTA",
        "--anchor", ANCHOR, "-o", str(tmp_path / "sealed.pdf"),
    )  # fmt: skip
    assert signed.exit_code == 0, signed.output
    return tmp_path


def _run(script: str, cwd: Path) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SEALSVC_")}
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ['PATH']}"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_the_readme_pdfsig_recipe_makes_the_seal_valid_and_trusted(workdir: Path) -> None:
    report = _run(pdfsig_recipe(), workdir)
    seal = report.split("Signature #2")[0]  # #2 is the B-LTA document time-stamp
    assert "Signer Certificate Common Name: 郑州市市场监督管理局" in seal, report
    assert "Signature Validation: Signature is Valid." in seal, report
    assert "Certificate Validation: Certificate is Trusted." in seal, report


def test_without_the_recipes_crls_pdfsig_does_not_trust_the_seal(workdir: Path) -> None:
    without_crls = re.sub(
        r"^for ca in .*?^done\n", "", pdfsig_recipe(), flags=re.DOTALL | re.MULTILINE
    )
    assert "crlutil" not in without_crls
    report = _run(without_crls, workdir)
    assert "Signature Validation: Signature is Valid." in report
    assert "Certificate is Trusted." not in report
