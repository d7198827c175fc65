"""``archive check`` (四性检测) throughput on 1-seal B-LTA licences, against verification alone.

    python bench/archive_check_bench.py [--count 1000] [--workers 2] [--render-sample 20]

Sets up a throw-away data directory (both CAs, the seed departments, an RSA seal of
郑州市市场监督管理局), issues ``--count`` 营业执照 as PDF B-LTA with that one seal (in a
process pool; not timed), then measures on the same files, in this order:

* **verify** — :meth:`DocumentVerifier.check` on every file, one process: the reference,
  the fast verification engine every record goes through anyway;
* **archive check, 1 process** — the headline: :meth:`ArchiveChecker.check` of the whole
  batch (reading each file, verification, the file's facts, the registry, the four
  properties, the serial check) and the JSON report, one process;
* **archive check, N processes** — the same with ``--workers N``: the start-up (the
  forkserver's imports, each worker's context and first verification) is inside the
  timed run;
* **per stage** — where a record's time goes in one process: the registry's state (read
  once per chunk of 32), the verification of the seals (with the one shared parse), the
  facts read from the parsed file, releasing the parsed objects (as the runner does), the
  registry's licences (which each file is, and their versions: three queries per chunk),
  the garbage collection after each chunk (paused during it, as the runner does), the
  four properties' report, the serial check and the JSON; "checks" is everything but the
  verification, per record;
* **check --render** on ``--render-sample`` files: page 1 painted by pdftoppm.

"records/s per core" is records divided by the CPU seconds the checking used: this
process's (``time.process_time``) plus its workers' and their forkserver's
(``RUSAGE_CHILDREN`` for exited children, ``/proc`` for the forkserver that lives on):
on a shared machine the wall time depends on what else runs, the CPU time much less.
The goal of issue 20 is ≥ 100.
"x1 wall" is how many times faster the batch's wall time was than the one-process run.
Every report is checked to pass (a benchmark of wrong answers would be worthless).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

from pyhanko.pdf_utils.reader import PdfFileReader

from sealsvc import departments, seals
from sealsvc.archival_check import ArchiveChecker, BatchReport, Item
from sealsvc.archival_check.pdf_facts import inspect_pdf
from sealsvc.archival_check.record import Record, RecordInspector
from sealsvc.archival_check.runner import CHUNK, report_of
from sealsvc.archival_check.serials import serial_checks
from sealsvc.config import Settings
from sealsvc.context import ServiceContext
from sealsvc.gc_pacing import one_unit, settle
from sealsvc.licences import get_licence_file, issue_licence, load_template
from sealsvc.pades import Level
from sealsvc.sealing import Sealer
from sealsvc.verification.pdf_signatures import open_reader, release
from sealsvc.verification.service import (
    DocumentCheck,
    DocumentVerifier,
    RegistryState,
    Verified,
)

_T = TypeVar("_T")

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


def _descendants_cpu() -> float:
    """CPU seconds of the live processes below this one and of their exited children:
    the archive check's workers are forked by a forkserver that lives on (their time
    is in its ``cutime`` once they exit, never in this process's ``RUSAGE_CHILDREN``)."""
    parents, ticks = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while we looked
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        ticks[pid] = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    below, todo = set(), [os.getpid()]
    while todo:
        parent = todo.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        below.update(children)
        todo += children
    return sum(ticks[pid] for pid in below) / os.sysconf("SC_CLK_TCK")


def _cpu() -> float:
    """CPU seconds of this process and of every process it started (exited or not)."""
    return time.process_time() + _children_cpu() + _descendants_cpu()


def _row(
    label: str, count: int, wall: float, cpu: float, reference: float | None, one: float | None
) -> str:
    per_core = count / cpu
    versus = f"{per_core / reference:7.2f}" if reference else "      -"
    speedup = f"{one / wall:7.2f}" if one else "      -"
    goal = "" if reference is None else ("  ok" if per_core >= GOAL else "  MISSED")
    return (
        f"{label:<30} {count:>7} {count / wall:>10.1f} {1000 * cpu / count:>8.2f} "
        f"{per_core:>10.1f} {versus} {speedup}{goal}"
    )


def _batch(checker: ArchiveChecker, items: list[Item], workers: int) -> BatchReport:
    """The whole check as ``sealctl archive check --json`` does it, JSON included."""
    report = checker.check(items, workers=workers)
    report.to_json()
    return report


class _Stages:
    """CPU seconds per stage of the check, the pieces :func:`check_records` runs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def timed(self, stage: str, work: Callable[..., _T], *args: object) -> _T:
        started = time.process_time()
        result = work(*args)
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.process_time() - started
        return result

    def run(self, inspector: RecordInspector, paths: list[Path]) -> None:
        def verified(data: bytes, state: RegistryState) -> tuple[PdfFileReader, Verified]:
            reader = open_reader(data)  # the one parse, the verifier's and the facts'
            return reader, inspector.verifier.verified(data, state, ofd=False, reader=reader)

        registered: list[Record] = []
        for first in range(0, len(paths), CHUNK):
            # as the runner does: the collector paused for a chunk, its garbage collected
            # after it (timed as its own stage)
            unit = one_unit()
            unit.__enter__()
            records = []
            state = self.timed("registry state (1 / chunk)", inspector.registry_state)
            for path in paths[first : first + CHUNK]:
                data = self.timed("read the file", path.read_bytes)
                reader, seals = self.timed("verify (parse once)", verified, data, state)
                facts = self.timed("facts of the parsed file", inspect_pdf, data, reader)
                self.timed("release the parsed objects", release, reader)
                check = DocumentCheck(seals.report, None)
                records.append(Record(str(path), data, facts, check, None, None, False, seals))
            registered += self.timed(
                f"registry (3 queries / {CHUNK})", inspector.registered, records
            )
            self.timed("garbage collection (1 / chunk)", unit.__exit__, None, None, None)
        reports = self.timed(
            "four properties, checksums", lambda: [report_of(r) for r in registered]
        )
        licences = [r.licence for r in registered]
        self.timed("serial check", serial_checks, inspector.context, licences)
        self.timed("JSON", lambda: [r.to_dict() for r in reports])

    def print(self, count: int) -> None:
        print(f"\n{'stage (1 process)':<30} {'CPU ms/record':>13}")
        for stage, seconds in self.seconds.items():
            print(f"{stage:<30} {1000 * seconds / count:>13.2f}")
        checks = sum(s for stage, s in self.seconds.items() if not stage.startswith("verify"))
        print(f"{'checks (all but verify)':<30} {1000 * checks / count:>13.2f}")


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
            f"{'run':<30} {'records':>7} {'rec/s wall':>10} {'CPU ms':>8} "
            f"{'rec/s/core':>10} {'/verify':>7} {'x1 wall':>7}"
        )

        settle()  # as `sealctl archive check` does before a batch (sealsvc.gc_pacing)
        verifier = DocumentVerifier(context)
        verifier.check(paths[0].read_bytes())  # warm: CA certificates, OCSP answers
        cpu, wall = _cpu(), time.perf_counter()
        for path in paths:
            assert verifier.check(path.read_bytes()).report.passed, path
        wall, cpu = time.perf_counter() - wall, _cpu() - cpu
        reference = len(paths) / cpu
        print(_row("verify (DocumentVerifier)", len(paths), wall, cpu, None, None))

        checker = ArchiveChecker(_context(data_dir))
        checker.check(items[:1])  # warm, as above
        cpu, one = _cpu(), time.perf_counter()
        report = _batch(checker, items, workers=1)
        one, cpu = time.perf_counter() - one, _cpu() - cpu
        assert report.passed, [r.to_dict() for r in report.records if not r.passed][:1]
        headline = len(items) / cpu
        print(_row("archive check, 1 process", len(items), one, cpu, reference, one))

        cpu, wall = _cpu(), time.perf_counter()
        report = _batch(ArchiveChecker(_context(data_dir)), items, workers=args.workers)
        wall, cpu = time.perf_counter() - wall, _cpu() - cpu
        assert report.passed
        label = f"archive check, {args.workers} processes"
        print(_row(label, len(items), wall, cpu, reference, one) + "  (incl. start-up)")

        sample = items[: args.render_sample]
        renderer = ArchiveChecker(_context(data_dir), render=True)
        renderer.check(sample[:1])
        cpu, wall = _cpu(), time.perf_counter()
        for item in sample:  # one by one: a sample of a day's licences has serial gaps
            assert renderer.check([item]).passed, item
        wall, cpu = time.perf_counter() - wall, _cpu() - cpu  # pdftoppm included
        print(_row("archive check --render", len(sample), wall, cpu, reference, None))

        stages = _Stages()
        stages.run(RecordInspector(_context(data_dir)), paths)
        stages.print(len(paths))
        rates = f"{headline:.1f} in one process, verification alone {reference:.1f}"
        state = "met" if headline >= GOAL else "MISSED"
        print(
            f"\ngoal: archive check ≥ {GOAL:.0f} records/s per core (issue 20): {state} ({rates})"
        )


if __name__ == "__main__":
    main()
