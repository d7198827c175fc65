"""Peak memory (RSS) of sealing and verifying a 100-page PDF, and of hostile documents.

    python bench/memory_bench.py [--pages 100] [--level B-LT]

Every measurement runs in a fresh child process (this script with ``--child``), so its peak
resident set size (``ru_maxrss``) is its own: the parent writes the inputs to files; the
child loads the test PKI, seals and verifies a 1-page PDF once (warm-up), reads its input,
records its peak RSS so far (the baseline), performs one operation and records the peak
again.  The parent also reads
``getrusage(RUSAGE_CHILDREN)`` after each child as a cross-check (it is the largest peak
of any child waited for so far, so it only ever grows).

Operations (:data:`OPERATIONS`): ``seal_pdf`` at the requested level (visible stamp,
in-process TSA, DSS with CRLs and OCSP), ``verify`` of that sealed file, and — to show the
limits hold — hostile files from ``tests/hostile_pdfs.py``: a sealed FlateDecode bomb page
(1 GiB of zeros in ~1 MB), a DSS full of CRL bombs, and anchor-placed sealing of the bomb,
which must be refused without inflating it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

__all__ = ["main"]

BOMB_GIB = 1
OPERATIONS: dict[str, str] = {
    "seal": "seal_pdf of the {pages}-page PDF at {level}, stamp by position",
    "verify": "verify of that sealed PDF",
    "verify-sealed-bomb": "verify of the content bomb, sealed by position (B-B)",
    "verify-dss-bomb": "verify of a sealed PDF whose DSS lists 20 CRLs of 256 MiB of zeros",
    "seal-bomb-by-anchor": "seal_pdf of the content bomb with the stamp on anchor text",
}
"""Operation → what it does; every input is prepared by the parent, outside the child."""


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _inputs(directory: Path, family: str, pages: int, level: str) -> dict[str, Path]:
    """The file each operation reads, written to ``directory``."""
    from helpers.hostile_pdfs import content_bomb, dss_bomb
    from helpers.pdf_fixtures import chinese_pdf
    from helpers.verify_corpus import services_for

    from sealsvc.pades import Level

    services = services_for(family)
    sealed = services.seal(chinese_pdf(pages), Level(level))
    bomb = content_bomb(BOMB_GIB * 1024)
    files = {
        "seal": chinese_pdf(pages),
        "verify": sealed,
        "verify-sealed-bomb": services.seal(bomb, Level.B_B),
        "verify-dss-bomb": dss_bomb(services.seal(chinese_pdf(1), Level(level))),
        "seal-bomb-by-anchor": bomb,
    }
    (directory / f"{family}-root.der").write_bytes(services.hierarchy.root.dump())
    paths = {}
    for operation, data in files.items():
        paths[operation] = directory / f"{family}-{operation}.pdf"
        paths[operation].write_bytes(data)
    return paths


def _child(family: str, operation: str, path: Path, level: str) -> dict:
    """One operation in this (fresh) process; returns the measurement as a dict."""
    from helpers.pdf_fixtures import chinese_pdf
    from helpers.verify_corpus import services_for

    from sealsvc.errors import InvalidInput
    from sealsvc.pades import Level, Placement
    from sealsvc.verification import TrustAnchors, verify

    services = services_for(family)
    imports = _peak_mib()
    # The parent sealed the inputs with its own (random) test PKI: trust that one's root.
    trust = TrustAnchors.from_files([path.with_name(f"{family}-root.der")])
    # Warm-up (fonts, stamp artwork, TSA size estimate, validator caches) before the baseline.
    verify(services.seal(chinese_pdf(1), Level(level)), trust=services.trust)
    document = path.read_bytes()
    baseline = _peak_mib()
    start = time.perf_counter()
    try:
        if operation.startswith("verify"):
            outcome = verify(document, trust=trust).verdict.value
        elif operation == "seal":
            outcome = f"{len(services.seal(document, Level(level))) // 1024} KiB out"
        else:
            services.seal(document, Level.B_B, placement=Placement(anchor="（盖章）"))
            outcome = "sealed"
    except InvalidInput as exc:
        outcome = f"refused: {exc}"
    return {
        "input_kib": len(document) // 1024,
        "imports_mib": imports,
        "baseline_mib": baseline,
        "peak_mib": _peak_mib(),
        "seconds": time.perf_counter() - start,
        "outcome": outcome,
    }


def _run_child(family: str, operation: str, path: Path, level: str) -> dict:
    argv = [sys.executable, __file__, "--child", family, operation, str(path), "--level", level]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{family} {operation} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--level", default="B-LT", choices=["B-B", "B-T", "B-LT", "B-LTA"])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        family, operation, path = args.child
        print(json.dumps(_child(family, operation, Path(path), args.level)))
        return 0

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Peak RSS per operation, each in a fresh process "
                        f"({args.pages}-page PDF at {args.level})")  # fmt: skip
    for column in ("family", "operation", "input KiB", "imports MiB", "baseline MiB",
                   "peak MiB", "growth MiB", "s", "outcome"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("operation", "outcome") else "right")
    largest_child = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for family in ("rsa", "sm2"):
            inputs = _inputs(Path(tmp), family, args.pages, args.level)
            for operation in OPERATIONS:
                r = _run_child(family, operation, inputs[operation], args.level)
                largest_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                table.add_row(
                    family,
                    operation,
                    str(r["input_kib"]),
                    f"{r['imports_mib']:.0f}",
                    f"{r['baseline_mib']:.0f}",
                    f"{r['peak_mib']:.0f}",
                    f"{r['peak_mib'] - r['baseline_mib']:.0f}",
                    f"{r['seconds']:.2f}",
                    r["outcome"][:58],
                )
    console = Console(width=170)
    console.print(table)
    for operation, what in OPERATIONS.items():
        console.print(f"{operation}: {what.format(pages=args.pages, level=args.level)}")
    console.print(
        "imports = the child's peak RSS after imports and the test keys; baseline = after a "
        "warm-up seal and verify of a 1-page PDF; peak = after the operation; "
        "growth = peak − baseline.\n"
        f"Cross-check, getrusage(RUSAGE_CHILDREN).ru_maxrss: largest child {largest_child:.0f} MiB."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
