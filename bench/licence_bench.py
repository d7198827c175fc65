"""Licences issued per second, end to end, and where the time goes.

    python bench/licence_bench.py [--count 40] [--workers 2]

Sets up a throw-away data directory (both CAs, the seed departments, an RSA and an SM2
seal of 郑州市市场监督管理局), then issues 营业执照 from the template's example data:

* single process, PDF at B-T and B-LTA (RSA seal) and OFD at B-T (SM2 seal, each
  ``SES_Signature`` time-stamped): rate and the share of each stage (validate, QR,
  render, seal, store) from ``issue_licence(..., timings=...)``;
* a process pool, PDF at B-T: each worker has its own ServiceContext and Sealer (the key
  store, TSA key and fonts load once per worker) and writes to the same SQLite database.

The first licence of each process is a warm-up and is not counted. The holder's name
and legal representative change from licence to licence (:func:`_data`), so the printed
characters, and the font subsets embedded, differ as they do between real licences.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sealsvc import departments, seals
from sealsvc.config import Settings
from sealsvc.context import ServiceContext
from sealsvc.licences import issue_licence, load_template
from sealsvc.licences.pipeline import STAGES
from sealsvc.pades import Level
from sealsvc.sealing import Sealer

PASSPHRASE = "bench passphrase, not a secret"
ACTOR = "bench"
TEMPLATE = "business_licence"


NAMES = "赵钱孙李冯褚卫蒋沈韩杨朱秦尤许吕施孔曹严魏陶姜戚谢邹喻柏窦苏潘葛奚范彭鲁韦昌苗凤俞袁柳鲍"
"""Characters for the varying names (common surnames)."""


def _data(example: dict[str, str], index: int) -> dict[str, str]:
    """The example data with a name and legal representative of their own for licence
    ``index``: no two consecutive licences print the same set of characters."""
    first, second = NAMES[index % len(NAMES)], NAMES[(7 * index + 3) % len(NAMES)]
    return {**example, "name": f"郑州{first}{second}信息科技有限公司",
            "legal_representative": f"{second}{first}"}  # fmt: skip


def _environ() -> dict[str, str]:
    return {"SEALSVC_PASSPHRASE": PASSPHRASE}


def _setup(data_dir: Path) -> dict[str, str]:
    """The seal code per format: RSA for the PDF, SM2 for the OFD (GB/T 38540 is SM2 only)."""
    context = ServiceContext(Settings.load(data_dir, _environ()))
    context.database.migrate()
    with context.database.session() as session:
        context.ca.initialise(session, actor=ACTOR, dev=True)
        departments.import_seed(session, actor=ACTOR)
    codes = {
        file_format: seals.issue(
            context, department="郑州市市场监督管理局", kind="公章", algorithm=algorithm,
            actor=ACTOR,
        ).code
        for file_format, algorithm in (("pdf", "rsa2048"), ("ofd", "sm2"))
    }  # fmt: skip
    context.close()
    return codes


def _run(
    data_dir: str, code: str, level: str, count: int, file_format: str = "pdf"
) -> tuple[float, float, dict[str, float]]:
    """Issue ``count`` licences after one warm-up: (wall s, CPU s, seconds per stage).

    CPU time is reported too because the wall time on a shared 2-core machine depends on
    what else runs; everything (TSA, OCSP, SQLite) is in-process, so CPU is the cost.
    """
    context = ServiceContext(Settings.load(Path(data_dir), _environ()))
    template = load_template(TEMPLATE)
    sealer = Sealer(context)
    data = template.example
    issue_licence(context, template, data, [code], actor=ACTOR, level=Level(level), sealer=sealer,
                  file_format=file_format)  # fmt: skip
    timings: dict[str, float] = {}
    cpu = time.process_time()
    start = time.perf_counter()
    for index in range(count):
        issue_licence(context, template, _data(data, index), [code], actor=ACTOR,
                      level=Level(level), sealer=sealer, timings=timings,
                      file_format=file_format)  # fmt: skip
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    context.close()
    return elapsed, cpu, timings


def _stage_row(
    label: str, count: int, elapsed: float, cpu: float, timings: dict[str, float]
) -> str:
    total = sum(timings.values()) or 1.0
    shares = "  ".join(f"{timings.get(s, 0) / total:>8.1%}" for s in STAGES)
    per = f"{count / elapsed:>6.1f} {1000 * elapsed / count:>8.1f} {1000 * cpu / count:>7.1f}"
    return f"{label:<22} {count:>4} {per}  {shares}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40, help="licences per measurement")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="licence-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        codes = _setup(data_dir)
        code = codes["pdf"]
        header = "  ".join(f"{s:>8}" for s in STAGES)
        print(f"{'run':<22} {'n':>4} {'per s':>6} {'wall ms':>8} {'cpu ms':>7}  {header}")
        for file_format, level in (("pdf", "B-T"), ("pdf", "B-LTA"), ("ofd", "B-T")):
            elapsed, cpu, timings = _run(
                str(data_dir), codes[file_format], level, args.count, file_format
            )
            label = f"1 process, {file_format.upper()} {level}"
            print(_stage_row(label, args.count, elapsed, cpu, timings))
        per_worker = max(1, args.count // args.workers)
        with ProcessPoolExecutor(args.workers) as pool:
            start = time.perf_counter()
            futures = [
                pool.submit(_run, str(data_dir), code, "B-T", per_worker)
                for _ in range(args.workers)
            ]
            results = [f.result() for f in futures]
        # wall time of the slowest worker's measured loop (warm-ups excluded)
        elapsed = max(r[0] for r in results)
        cpu = sum(r[1] for r in results)
        merged: dict[str, float] = {}
        for _, _, timings in results:
            for stage, seconds in timings.items():
                merged[stage] = merged.get(stage, 0.0) + seconds
        label = f"{args.workers} processes, PDF B-T"
        print(_stage_row(label, per_worker * args.workers, elapsed, cpu, merged))
        print(f"(pool wall time incl. start-up and warm-up: {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
