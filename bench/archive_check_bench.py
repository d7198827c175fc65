"""``archive check`` (四性检测) throughput on 1-seal B-LTA licences, against verification alone.

    python bench/archive_check_bench.py [--count 1000] [--workers 2] [--render-sample 20]

Sets up a throw-away data directory (both CAs, the seed departments, an RSA seal of
郑州市市场监督管理局), issues ``--count`` 营业执照 as PDF B-LTA with that one seal (in a
process pool; not timed), then measures on the same files, in this order:

* **verify** — :meth:`DocumentVerifier.check` on every file, one process: the reference,
  the fast verification engine every record goes through anyway;
* **check, 1 process** — :meth:`ArchiveChecker.check` of the whole batch (verification,
  the file's facts, the registry, the serial check), one process;
* **check, N processes** — the same batch with ``--workers N`` (each worker its own
  context), wall time including the workers' start-up;
* **check --render** on ``--render-sample`` files: page 1 painted by pdftoppm.

"records/s per core" is records divided by the CPU seconds the checking processes used
(this one, or the workers': ``RUSAGE_CHILDREN``): on a shared machine the wall time
depends on what else runs, the CPU time much less.  The goal of issue 20 is ≥ 100.
Every report is checked to pass (a benchmark of wrong answers would be worthless).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sealsvc import departments, seals
from sealsvc.archival_check import ArchiveChecker, Item
from sealsvc.config import Settings
from sealsvc.context import ServiceContext
from sealsvc.licences import get_licence_file, issue_licence, load_template
from sealsvc.pades import Level
from sealsvc.sealing import Sealer
from sealsvc.verification.service import DocumentVerifier

PASSPHRASE = "bench passphrase, not a secret"
ACTOR = "bench"
GOAL = 100.0
NAMES = "赵钱孙李冯褚卫蒋沈韩杨朱秦尤许吕施孔曹严魏陶姜戚谢邹喻柏窦苏潘葛奚范彭鲁韦昌苗凤俞袁柳鲍"


def _context(data_dir: Path) -> ServiceContext:
    return ServiceContext(Settings.load(data_dir, {"SEALSVC_PASSPHRASE": PASSPHRASE}))


def _setup(data_dir: Path) -> str:
    context = _context(data_dir)
    context.database.migrate()
    with context.database.session() as session:
        context.ca.initialise(session, actor=ACTOR, dev=True)
        departments.import_seed(session, actor=ACTOR)
        context.ca.export_files(session)
    code = seals.issue(
        context, department="郑州市市场监督管理局", kind="公章", algorithm="rsa2048", actor=ACTOR
    ).code
    context.close()
    return code


def _issue(data_dir: str, code: str, first: int, count: int) -> list[str]:
    """Issue licences ``first`` … ``first + count - 1`` (each with its own holder name)."""
    context = _context(Path(data_dir))
    template = load_template("business_licence")
    sealer = Sealer(context)
    numbers = []
    for index in range(first, first + count):
        a, b = NAMES[index % len(NAMES)], NAMES[(index // len(NAMES)) % len(NAMES)]
        data = {**template.example, "name": f"郑州{a}{b}{index}信息科技有限公司"}
        record = issue_licence(
            context, template, data, [code], actor=ACTOR, level=Level.B_LTA, sealer=sealer
        )
        numbers.append(record.number)
    context.close()
    return numbers


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _row(label: str, count: int, wall: float, cpu: float, reference: float | None) -> str:
    per_core = count / cpu
    versus = f"{per_core / reference:6.2f}" if reference else "     -"
    goal = "" if reference is None else ("  ok" if per_core >= GOAL else "  MISSED")
    return (
        f"{label:<30} {count:>6} {count / wall:>9.1f} {1000 * cpu / count:>8.2f} "
        f"{per_core:>10.1f} {versus}{goal}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="licences in the batch")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--render-sample", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="archive-check-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        code = _setup(data_dir)
        started = time.perf_counter()
        share = -(-args.count // args.workers)
        with ProcessPoolExecutor(args.workers) as pool:
            parts = pool.map(
                _issue,
                [str(data_dir)] * args.workers,
                [code] * args.workers,
                range(0, args.count, share),
                [min(share, args.count - first) for first in range(0, args.count, share)],
            )
            numbers = [n for part in parts for n in part]
        print(f"issued {len(numbers)} B-LTA licences in {time.perf_counter() - started:.0f} s")

        context = _context(data_dir)
        paths = []
        for number in numbers:
            path = Path(tmp) / f"{number}.pdf"
            path.write_bytes(get_licence_file(context, number))
            paths.append(path)
        items = [Item(str(p), path=p) for p in paths]
        size = sum(p.stat().st_size for p in paths) // len(paths)
        print(f"average file: {size // 1024} KiB, 1 seal + 1 document time-stamp each\n")
        print(
            f"{'run':<30} {'records':>6} {'rec/s wall':>9} {'CPU ms':>8} "
            f"{'rec/s/core':>10} {'/verify':>6}"
        )

        verifier = DocumentVerifier(context)
        verifier.check(paths[0].read_bytes())  # warm: CA certificates, OCSP answers
        cpu, wall = time.process_time(), time.perf_counter()
        for path in paths:
            assert verifier.check(path.read_bytes()).report.passed, path
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        reference = len(paths) / cpu
        print(_row("verify (DocumentVerifier)", len(paths), wall, cpu, None))

        checker = ArchiveChecker(_context(data_dir))
        checker.check(items[:1])  # warm, as above
        cpu, wall = time.process_time(), time.perf_counter()
        report = checker.check(items)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert report.passed, [r.to_dict() for r in report.records if not r.passed][:1]
        print(_row("archive check, 1 process", len(items), wall, cpu, reference))

        before, wall = _children_cpu(), time.perf_counter()
        report = ArchiveChecker(_context(data_dir)).check(items, workers=args.workers)
        wall, cpu = time.perf_counter() - wall, _children_cpu() - before
        assert report.passed
        label = f"archive check, {args.workers} processes"
        print(_row(label, len(items), wall, cpu, reference) + "  (wall incl. start-up)")

        sample = items[: args.render_sample]
        renderer = ArchiveChecker(_context(data_dir), render=True)
        renderer.check(sample[:1])
        cpu, wall = time.process_time(), time.perf_counter()
        children = _children_cpu()
        for item in sample:  # one by one: a sample of a day's licences has serial gaps
            assert renderer.check([item]).passed, item
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu + _children_cpu() - children  # pdftoppm included
        print(_row("archive check --render", len(sample), wall, cpu, reference))
        print(f"\ngoal: archive check ≥ {GOAL:.0f} records/s per core (issue 20)")


if __name__ == "__main__":
    main()
