"""The README's quick start, pasted into a shell, works against a real server.

The commands are read from README.md's "Quick start" section (the ``sh`` block that calls
``curl``), so the test fails as soon as the README drifts from the service.  Only what a
reader must change is changed: the placeholder token becomes the admin token that the
server's first start printed, ``127.0.0.1:8000`` becomes the test server's free port,
and ``xdg-open`` (no desktop here) becomes a ``curl --fail`` of the same URL.  The shell
is bash with ``-eu``, the working directory holds ``some.pdf`` (a PDF with （盖章）).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers.pdf_fixtures import chinese_pdf
from helpers.readme_recipes import quick_start_commands
from helpers.server import running_server

if TYPE_CHECKING:
    from helpers.server import ServerProcess

README_URL = "http://127.0.0.1:8000"


def _pasted(commands: str, server: ServerProcess) -> str:
    """What a reader runs: their token and port, and no desktop to open a browser."""
    script, count = re.subn(
        r"^TOKEN=\S+", f"TOKEN={server.admin_token}", commands, flags=re.MULTILINE
    )
    assert count == 1, "the Quick start should set TOKEN once"
    script = re.sub(
        r"^xdg-open ", "curl --fail --silent --show-error -o /dev/null ", script, flags=re.MULTILINE
    )
    return script.replace(README_URL, server.url)


def _run_pasted(
    commands: str, server: ServerProcess, cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``commands`` as a reader pastes them into bash, in ``cwd``."""
    return subprocess.run(
        ["bash", "-eu", "-c", _pasted(commands, server)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("readme") / "data") as live:
        yield live


def test_readme_quick_start_works_when_pasted(server: ServerProcess, tmp_path: Path) -> None:
    commands = quick_start_commands()
    assert "?" not in commands.replace("?h=", ""), "options as -F fields, not a raw query"
    assert commands.count("--fail-with-body") >= 2
    seal = re.search(r"^SEAL=(\d{14})", commands, flags=re.MULTILINE)
    assert seal is not None
    assert seal.group(1) == server.demo_seal("ZZ-D26", "rsa").code  # as the comment says

    (tmp_path / "some.pdf").write_bytes(chinese_pdf(1))
    result = _run_pasted(commands, server, tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    sealed = (tmp_path / "sealed.pdf").read_bytes()
    assert sealed.startswith(b"%PDF-"), sealed[:500]
    report = json.loads(result.stdout)  # the verify call's answer is all that is printed
    assert report["verdict"] == "TOTAL_PASSED", report


def test_a_failed_seal_shows_the_problem_not_a_pdf(server: ServerProcess, tmp_path: Path) -> None:
    """The ``|| cat`` path: a PDF without （盖章） gets the 400 problem on the terminal."""
    from reportlab.pdfgen.canvas import Canvas

    canvas = Canvas(str(tmp_path / "some.pdf"))
    canvas.drawString(100, 700, "no anchor here")
    canvas.save()
    commands = quick_start_commands()
    first_curl = commands.split("\ncurl --fail-with-body -F file=@sealed.pdf")[0]
    result = _run_pasted(first_curl, server, tmp_path, timeout=120)
    problem = json.loads(result.stdout)
    assert problem["status"] == 400 and "（盖章）" in problem["detail"]
    assert "curl: (22)" in result.stderr
