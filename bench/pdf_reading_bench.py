"""PDF reading on 1-seal B-LTA licences: pyHanko's parser against the fast one.

    python bench/pdf_reading_bench.py [--count 60] [--rounds 3]

Issues ``--count`` 营业执照 (PDF B-LTA, one RSA seal, in a throw-away data directory; not
timed), then measures, alternating pyHanko's own reading (``read_object``, and the
cross-reference tables, trailers and ``n g obj … endobj`` around the objects) with the
fast one (:mod:`sealsvc.verification.pdf_reading`, :mod:`sealsvc.verification.pdf_frames`)
licence by licence (the machine is
shared: alternating puts both under the same load), in CPU time (``time.process_time``):

* **parse every object** — a fresh reader of each licence, every object of every
  revision; the two parsers' objects are checked equal (tests/helpers/pdf_objects.py);
* **verify** — :meth:`DocumentVerifier.check`, each report checked to pass: one verifier,
  each licence checked once (nothing from its verdict cache), the first half of the
  licences with pyHanko's parser, the second with the fast one, pair by pair;
* **open + facts** — :func:`inspect_pdf` on a fresh reader of each licence, facts checked
  equal.

Either parser runs with the three block readers of :mod:`.pdf_signatures` in place (they
serve pyHanko's parser, and the fast one's fallback).
"""

from __future__ import annotations

import argparse
import operator
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive_check_bench import _context, _issue, _setup  # noqa: E402
from helpers.pdf_objects import difference, every_object, stock_parser  # noqa: E402

from sealsvc.archival_check.pdf_facts import inspect_pdf  # noqa: E402
from sealsvc.licences import get_licence_file  # noqa: E402
from sealsvc.verification.pdf_signatures import open_reader  # noqa: E402
from sealsvc.verification.service import DocumentVerifier  # noqa: E402

__all__ = ["main"]

_T = TypeVar("_T")


def _cpu(work: Callable[[], _T]) -> tuple[float, _T]:
    """CPU seconds of ``work()`` and its result.  The garbage collector is left to run
    as it does in the service: its cost depends on how many objects a parser allocates
    (pyHanko's makes a generator per token), and alternating spreads its collections
    evenly over the two."""
    started = time.process_time()
    result = work()
    return time.process_time() - started, result


def _alternating(
    pdfs: list[bytes],
    rounds: int,
    work: Callable[[bytes], _T],
    same: Callable[[_T, _T], bool],
) -> tuple[float, float]:
    """CPU seconds per licence of ``work`` with pyHanko's parser and with the fast one,
    taking turns licence by licence; each pair of results checked by ``same``."""
    stock = fast = 0.0
    for _ in range(rounds):
        for pdf in pdfs:
            with stock_parser():
                seconds, theirs = _cpu(lambda pdf=pdf: work(pdf))
            stock += seconds
            seconds, ours = _cpu(lambda pdf=pdf: work(pdf))
            fast += seconds
            assert same(ours, theirs)
    runs = rounds * len(pdfs)
    return stock / runs, fast / runs


def _same_objects(ours: dict, theirs: dict) -> bool:
    return ours.keys() == theirs.keys() and all(
        difference(ours[key][1], theirs[key][1]) is None for key in ours
    )


def _row(label: str, stock: float, fast: float) -> str:
    return f"{label:<24} {1000 * stock:>12.2f} {1000 * fast:>12.2f} {stock / fast:>8.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60, help="licences issued")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the licences")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pdf-reading-bench-") as tmp:
        code = _setup(Path(tmp))
        numbers = _issue(tmp, code, 0, args.count)
        context = _context(Path(tmp))
        pdfs = [get_licence_file(context, number) for number in numbers]
        print(f"{len(pdfs)} B-LTA licences, {sum(map(len, pdfs)) // len(pdfs) // 1024} KiB each")
        print(f"\n{'CPU ms per licence':<24} {'pyHanko':>12} {'fast reader':>12} {'x':>8}")

        stock, fast = _alternating(pdfs, args.rounds, every_object, _same_objects)
        print(_row("parse every object", stock, fast))

        verifier = DocumentVerifier(context)
        verifier.check(pdfs[-1])  # warm: trust anchors, OCSP answers
        half = len(pdfs) // 2
        stock_seconds = fast_seconds = 0.0
        for first, second in zip(pdfs[:half], pdfs[half : 2 * half], strict=True):
            with stock_parser():
                seconds, report = _cpu(lambda pdf=first: verifier.check(pdf).report)
            assert report.passed
            stock_seconds += seconds
            seconds, report = _cpu(lambda pdf=second: verifier.check(pdf).report)
            assert report.passed
            fast_seconds += seconds
        print(_row("verify", stock_seconds / half, fast_seconds / half))

        stock, fast = _alternating(
            pdfs, args.rounds, lambda pdf: inspect_pdf(pdf, open_reader(pdf)), operator.eq
        )
        print(_row("open + facts", stock, fast))
        context.close()


if __name__ == "__main__":
    main()
