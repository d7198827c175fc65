"""``DocumentVerifier`` on a batch of 1-seal B-LTA licences: the engine ``archive check`` uses.

    python bench/verify_batch_bench.py [--count 1000] [--workers 2]

Sets up a throw-away data directory and issues ``--count`` different 营业执照 as PDF
B-LTA (certified, one RSA seal of 郑州市市场监督管理局, the service's TSA and CA — as
``bench/archive_check_bench.py`` does, with its functions; not timed), then verifies
them with one :class:`DocumentVerifier`, one process, in this order:

* **cold** — the first licence, every process cache emptied (``clear_caches``) and a new
  verifier: what one upload costs a fresh worker;
* **batch, pyHanko diff** — every licence, with the revision index switched off, so each
  later revision goes through pyHanko's ``DEFAULT_DIFF_POLICY`` (the engine before
  issue 20's fast path), same run, same files;
* **batch** — every licence as shipped.

Each batch uses its own verifier (no report of the other batch is reused).  "per core"
is licences divided by this process's CPU time (``time.process_time``): on a shared
machine wall time depends on what else runs; both are shown.  The lane's goal:
≥ 150 licences/s per core on the batch.  Every report is checked to pass.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive_check_bench import _context, _issue, _setup

from sealsvc.licences import get_licence_file
from sealsvc.verification.revisions import RevisionIndex
from sealsvc.verification.service import DocumentVerifier
from sealsvc.verification.validator import clear_caches

GOAL = 150.0


@contextmanager
def _without_revision_index() -> Iterator[None]:
    """Every later revision judged by pyHanko's difference analysis."""
    saved = RevisionIndex.adds_only_validation_data, RevisionIndex.adds_one_signature
    RevisionIndex.adds_only_validation_data = lambda self, revision: False  # type: ignore[method-assign]
    RevisionIndex.adds_one_signature = lambda self, revision: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        RevisionIndex.adds_only_validation_data, RevisionIndex.adds_one_signature = saved


def _batch(verifier: DocumentVerifier, pdfs: list[bytes]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) to verify every licence, each checked to pass."""
    cpu, wall = time.process_time(), time.perf_counter()
    for pdf in pdfs:
        assert verifier.check(pdf).report.passed
    return time.process_time() - cpu, time.perf_counter() - wall


def _row(label: str, count: int, cpu: float, wall: float) -> str:
    return (
        f"{label:<28} {count:>6} {1000 * cpu / count:>8.2f} {count / cpu:>10.1f}"
        f" {count / wall:>10.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="licences in the batch")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="for issuing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="verify-batch-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        code = _setup(data_dir)
        share = -(-args.count // args.workers)
        firsts = range(0, args.count, share)
        with ProcessPoolExecutor(args.workers) as pool:
            parts = pool.map(
                _issue,
                [str(data_dir)] * len(firsts),
                [code] * len(firsts),
                firsts,
                [min(share, args.count - first) for first in firsts],
            )
            numbers = [n for part in parts for n in part]
        context = _context(data_dir)
        pdfs = [get_licence_file(context, number) for number in numbers]
        print(f"{len(pdfs)} B-LTA licences, {sum(map(len, pdfs)) // len(pdfs) // 1024} KiB each\n")
        print(f"{'run':<28} {'count':>6} {'CPU ms':>8} {'/s/core':>10} {'/s wall':>10}")

        clear_caches()
        cpu, wall = _batch(DocumentVerifier(context), pdfs[:1])
        print(_row("cold (first licence)", 1, cpu, wall))

        with _without_revision_index():
            verifier = DocumentVerifier(context)
            verifier.check(pdfs[-1])  # warm: anchors, our OCSP answers
            cpu, wall = _batch(verifier, pdfs[:-1])
        print(_row("batch, pyHanko diff", len(pdfs) - 1, cpu, wall))

        verifier = DocumentVerifier(context)
        verifier.check(pdfs[-1])
        cpu, wall = _batch(verifier, pdfs[:-1])
        per_core = (len(pdfs) - 1) / cpu
        print(_row("batch", len(pdfs) - 1, cpu, wall))
        verdict = "met" if per_core >= GOAL else "MISSED"
        print(f"\ngoal ≥ {GOAL:.0f} licences/s per core on the batch (CPU time): {verdict}", end="")
        print(f" ({per_core:.1f})")
        context.close()


if __name__ == "__main__":
    main()
