"""``sealctl`` start-up: whole processes, the issue 22 goals, and the libraries' own floor.

    python bench/cli_bench.py [--runs 5]

An officer's shell round trip is a whole process — interpreter, imports, the work,
exit — so each command runs as one, as the officer types it: a warm-up run, then
``--runs`` counted ones; the figures are the medians of the kernel's accounting of each
finished child (``os.wait4``: user + system CPU seconds) and of its wall-clock time.
The machine is shared, so the goal is read on CPU time (wall time waits for the other
processes too).

Beside each command, in the same run, its *floor*: a bare interpreter importing only the
libraries that command cannot do without (typer and pydantic for its arguments,
SQLAlchemy's ORM for the registry, pyHanko for a PDF signature). A command near its
floor has nothing of its own left to cut. Set-up: a fresh data directory after
``sealctl init --dev``, ``dept import`` and one RSA seal; ``in.pdf`` one page; ``out.pdf``
sealed at B-B.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfgen.canvas import Canvas
from rich.console import Console
from rich.table import Table

SEALCTL = str(Path(sys.executable).with_name("sealctl"))


@dataclass(frozen=True)
class Case:
    """One command line of the issue's list, its goal and its floor."""

    name: str
    arguments: tuple[str, ...]
    goal_seconds: float
    floor_imports: str
    """What a bare interpreter imports for the floor row (empty: ``python -c pass``)."""


CASES = (
    Case("sealctl --help", ("--help",), 0.150, ""),
    Case("sealctl seal list", ("seal", "list"), 0.400, "typer, pydantic, sqlalchemy.orm"),
    Case(
        "sealctl verify out.pdf",
        ("verify", "out.pdf"),
        0.600,
        "typer, pydantic, sqlalchemy.orm, pyhanko.sign.validation",
    ),
    Case(
        "sealctl sign in.pdf … -o again.pdf",
        ("sign", "in.pdf", "--seal", "{seal}", "--level", "B-B", "-o", "again.pdf"),
        0.600,
        "typer, pydantic, sqlalchemy.orm, pyhanko.sign.signers.pdf_signer",
    ),
)


def _timed(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """CPU seconds (user + system, from the kernel) and wall seconds of one whole process."""
    start = time.perf_counter()
    child = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must know
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {child.returncode}")
    return usage.ru_utime + usage.ru_stime, wall


def _medians(argv: Sequence[str], cwd: Path, env: dict[str, str], runs: int) -> tuple[float, float]:
    _timed(argv, cwd, env)  # warm-up: page cache, bytecode
    samples = [_timed(argv, cwd, env) for _ in range(runs)]
    return (
        statistics.median(cpu for cpu, _ in samples),
        statistics.median(wall for _, wall in samples),
    )


def _set_up(work: Path) -> tuple[dict[str, str], str]:
    """The officer's environment in ``work`` and the code of its one seal."""
    env = {
        **os.environ,
        "SEALSVC_DATA_DIR": str(work / "data"),
        "SEALSVC_PASSPHRASE": "cli bench passphrase",
        "NO_COLOR": "1",
    }
    for name in ("SEALSVC_PASSPHRASE_FILE", "SEALSVC_DATABASE_URL", "SEALSVC_BASE_URL"):
        env.pop(name, None)

    def sealctl(*arguments: str) -> str:
        return subprocess.run(
            [SEALCTL, *arguments], cwd=work, env=env, check=True, capture_output=True, text=True
        ).stdout

    sealctl("init", "--dev")
    sealctl("dept", "import")
    seal = json.loads(sealctl("seal", "issue", "--dept", "ZZ-D01", "--kind", "公章", "--json"))
    canvas = Canvas(str(work / "in.pdf"))
    canvas.drawString(100, 700, "sealctl start-up benchmark")
    canvas.save()
    sealctl("sign", "in.pdf", "--seal", seal["code"], "--level", "B-B", "-o", "out.pdf")
    return env, seal["code"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="counted runs after one warm-up")
    args = parser.parse_args(argv)
    console = Console(width=160)
    work = Path(tempfile.mkdtemp(prefix="sealctl-bench-"))
    try:
        env, seal = _set_up(work)
        table = Table(title=f"sealctl as whole processes, median of {args.runs} after a warm-up")
        columns = ("command", "CPU s", "wall s", "floor CPU s", "floor imports", "goal s", "met")
        for column in columns:
            table.add_column(column)
        for case in CASES:
            command = [SEALCTL, *(part.format(seal=seal) for part in case.arguments)]
            cpu, wall = _medians(command, work, env, args.runs)
            floor = [
                sys.executable,
                "-c",
                f"import {case.floor_imports}" if case.floor_imports else "pass",
            ]
            floor_cpu, _ = _medians(floor, work, env, args.runs)
            verdict = "ok" if cpu <= case.goal_seconds else "MISSED"
            table.add_row(
                case.name,
                f"{cpu:.3f}",
                f"{wall:.3f}",
                f"{floor_cpu:.3f}",
                case.floor_imports or "(none)",
                f"≤ {case.goal_seconds:.3f}",
                verdict,
            )
        console.print(table)
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        console.print(f"load average at the end: {load} (2 cores shared; read CPU, not wall)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
