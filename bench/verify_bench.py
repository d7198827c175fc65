"""Verification throughput: ``sealsvc.verification.verify`` next to pyHanko's validator alone.

    python bench/verify_bench.py [--seconds 3]

Two licence-like PDFs are sealed with the test PKI (``tests/verify_corpus.py``): one seal
and three joint seals, RSA-2048, PAdES B-LT (time-stamp + embedded OCSP/CRLs), so both
sides see the same bytes.  "pyHanko" is ``validate_pdf_signature`` on every embedded
signature with a ``ValidationContext`` holding the same trust root (integrity, difference
analysis, CMS, time-stamp and path validation — what pyHanko's own ``validate`` does).
"ours" is the full report (the same checks, plus revocation from the DSS, the DocMDP
verdict, indications and sentences).  The goal is ours ≥ 0.8 × pyHanko.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pdf_fixtures import chinese_pdf
from pki_fixtures import issue_leaf
from verify_corpus import TestServices, services_for

from sealsvc.pades import Level, Placement
from sealsvc.verification import DocumentVerdict, verify

__all__ = ["main"]

GOAL = 0.80


def licences(services: TestServices) -> dict[str, bytes]:
    """A 2-page licence with one seal, and with three joint seals of different offices."""
    single = services.seal(chinese_pdf(2), level=Level.B_LT)
    joint = single
    for number, x in ((2, 60), (3, 100)):
        cert, key = issue_leaf(
            services.hierarchy, common_name=f"深圳市市场监督管理局第{number}专用章"
        )
        joint = services.seal(
            joint,
            level=Level.B_LT,
            certificate=cert,
            key=key,
            placement=Placement(page=2, x_mm=x, y_mm=120),
        )
    return {"1 seal": single, "3 seals": joint}


def rates(
    first: Callable[[], object], second: Callable[[], object], seconds: float
) -> tuple[float, float]:
    """Documents per second of both callables, from the median time of alternating calls.

    Alternating and taking the median keeps the ratio fair on a shared, busy machine: a
    burst of load hits both sides instead of whichever happened to run at that moment.
    """
    first(), second()  # warm-up: imports, caches
    times: tuple[list[float], list[float]] = ([], [])
    start = time.perf_counter()
    while time.perf_counter() - start < 2 * seconds or len(times[0]) < 5:
        for run, bucket in ((first, times[0]), (second, times[1])):
            t0 = time.perf_counter()
            run()
            bucket.append(time.perf_counter() - t0)
    return 1 / statistics.median(times[0]), 1 / statistics.median(times[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per document and side")
    args = parser.parse_args(argv)
    services = services_for("rsa")
    (root,) = services.trust.certificates  # parsed from DER, as for our side

    def ours(pdf: bytes) -> None:
        report = verify(pdf, trust=services.trust)
        assert report.verdict is DocumentVerdict.TOTAL_PASSED, report.message

    def pyhanko(pdf: bytes) -> None:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        for signature in reader.embedded_signatures:
            context = ValidationContext(trust_roots=[root], allow_fetching=False)
            status = validate_pdf_signature(signature, context)
            assert status.bottom_line, status.pretty_print_details()

    table = Table(title="verification throughput (documents/s, median of alternating runs)")
    for column in ("document", "size", "pyHanko", "ours", "ours / pyHanko"):
        table.add_column(column, justify="right")
    worst = float("inf")
    for name, pdf in licences(services).items():
        theirs, mine = rates(lambda p=pdf: pyhanko(p), lambda p=pdf: ours(p), args.seconds)
        worst = min(worst, mine / theirs)
        table.add_row(
            name, f"{len(pdf) // 1024} KiB", f"{theirs:.1f}", f"{mine:.1f}", f"{mine / theirs:.2f}"
        )
    console = Console()
    console.print(table)
    verdict = "[green]met[/]" if worst >= GOAL else "[red]missed[/]"
    console.print(f"goal ours/pyHanko ≥ {GOAL}: {verdict} (worst {worst:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
