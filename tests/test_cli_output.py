"""``sealctl`` output to a pipe or a file is never wrapped or cut (issue 14 §6).

With ``COLUMNS=80`` (what rich assumes without a terminal), a 64-digit audit head hash, a
certificate serial and a long department name used to break over two lines.  Checked
in-process (``CliRunner``) and through a real pipe; a terminal still gets wrapped lines.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from helpers.local import TEST_PASSPHRASE
from helpers.server import SEALCTL

from sealsvc import seals
from sealsvc.cli.common import PipeFriendlyConsole
from sealsvc.context import ServiceContext

pytest_plugins = ("helpers.seal_fixtures",)  # sqlite_seal_context

LONG_NAME = "郑州市" + "城乡建设与人民防空及住房保障综合行政执法" * 3 + "支队"
"""A department name of well over 80 columns (CJK characters take two)."""


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def _lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def test_long_values_stay_on_one_line_in_captured_output(
    sealctl, sqlite_seal_context: ServiceContext, narrow: None
) -> None:
    added = sealctl("dept", "add", LONG_NAME, "--code", "ZZ-D99", "--parent", "ZZ-GOV")
    assert added.exit_code == 0, added.output
    listed = sealctl("dept", "list")
    assert len(_lines_with(listed.stdout, LONG_NAME)) == 1, listed.stdout

    code = seals.issue(
        sqlite_seal_context, department="ZZ-D26", kind="公章", algorithm="rsa", actor="test"
    ).code
    (certificate,) = json.loads(sealctl("seal", "show", code, "--json").stdout)["certificates"]
    shown = sealctl("seal", "show", code)
    assert shown.exit_code == 0, shown.output
    row = _lines_with(shown.stdout, certificate["serial_hex"])
    assert len(row) == 1 and certificate["key_id"] in row[0], shown.stdout
    header = _lines_with(shown.stdout, code)[0]  # ~90 columns: code, names, status, image
    assert "(ZZ-D26)" in header and "image" in header, shown.stdout

    head = json.loads(sealctl("audit", "verify", "--json").stdout)["head"]["entry_hash"]
    verified = sealctl("audit", "verify")
    assert re.fullmatch(r"[0-9a-f]{64}", head)
    assert f"hash {head}" in verified.stdout and len(verified.stdout.splitlines()) == 1


def test_long_values_stay_on_one_line_through_a_pipe(
    sqlite_seal_context: ServiceContext, sealctl, tmp_path: Path
) -> None:
    assert sealctl("dept", "add", LONG_NAME, "--code", "ZZ-D99").exit_code == 0
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SEALSVC_")}
    environ.update(COLUMNS="80", SEALSVC_PASSPHRASE=TEST_PASSPHRASE)
    data_dir = str(sqlite_seal_context.settings.data_dir)

    def piped(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(SEALCTL), "--data-dir", data_dir, *args],
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert len(_lines_with(piped("dept", "list").stdout, LONG_NAME)) == 1
    verified = piped("audit", "verify").stdout
    assert re.search(r"hash [0-9a-f]{64}$", verified.strip()), verified
    # stderr too: an error naming a long path is one line
    deep = tmp_path / ("很长的目录名" * 12) / "data"
    refused = subprocess.run(
        [str(SEALCTL), "--data-dir", str(deep), "seal", "list"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1
    assert len(refused.stderr.splitlines()) == 1 and str(deep) in refused.stderr


def test_a_terminal_still_gets_lines_as_wide_as_the_terminal() -> None:
    out = io.StringIO()
    terminal = PipeFriendlyConsole(file=out, force_terminal=True, width=40, color_system=None)
    terminal.print("x" * 100)
    assert [len(line) for line in out.getvalue().splitlines()] == [40, 40, 20]
