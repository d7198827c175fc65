"""Archive information packages: export and offline import-check per record, and their size.

    python bench/archive_package_bench.py [--count 10]

Sets up a throw-away data directory as ``licence_bench.py`` does, issues ``count`` PDF
(B-LTA, RSA) and ``count`` OFD (B-T, SM2) 营业执照, then exports each as a package
(verification, evidence, audit trail, report PDF, manifest, archive seal) and re-checks
every package with ``import_check`` — once right after export in this process (warm:
parsed certificates and verified signatures are remembered) and once after
``clear_caches`` (cold, what an archive checking one package sees).  CPU seconds are
reported beside wall seconds: the machine is shared.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from licence_bench import ACTOR, TEMPLATE, _environ, _setup

from sealsvc.archive.import_check import import_check
from sealsvc.archive.package import PackageExporter
from sealsvc.config import Settings
from sealsvc.context import ServiceContext
from sealsvc.licences import issue_licence, load_template
from sealsvc.verification import revocation, ses, validator


def _timed(run):
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        codes = _setup(data_dir)
        context = ServiceContext(Settings.load(data_dir, _environ()))
        with context.database.session(read_only=True) as session:
            context.ca.export_files(session)
        template = load_template(TEMPLATE)
        exporter = PackageExporter(context)
        print("| format | export CPU ms | export wall ms | check warm CPU ms | "
              "check cold CPU ms | package KiB |")  # fmt: skip
        print("|---|---|---|---|---|---|")
        for file_format in ("pdf", "ofd"):
            numbers = [
                issue_licence(context, template, template.example, [codes[file_format]],
                              actor=ACTOR, file_format=file_format).number
                for _ in range(args.count + 1)
            ]  # fmt: skip
            exporter.export_licence(numbers.pop(), actor=ACTOR)  # warm-up
            exports, walls, warm, cold, sizes = [], [], [], [], []
            for number in numbers:
                package, wall, cpu = _timed(
                    lambda n=number: exporter.export_licence(n, actor=ACTOR)
                )
                exports.append(cpu)
                walls.append(wall)
                sizes.append(len(package.data) / 1024)
                report, _, cpu = _timed(lambda p=package: import_check(p.data))
                assert report.passed, report.to_dict()
                warm.append(cpu)
                for module in (validator, revocation, ses):
                    module.clear_caches()
                report, _, cpu = _timed(lambda p=package: import_check(p.data))
                assert report.passed
                cold.append(cpu)
            print(
                f"| {file_format} | {statistics.median(exports) * 1000:.0f} | "
                f"{statistics.median(walls) * 1000:.0f} | {statistics.median(warm) * 1000:.0f} | "
                f"{statistics.median(cold) * 1000:.0f} | {statistics.median(sizes):.0f} |"
            )
        print(f"\nmedians over {args.count} records per format (one warm-up export not counted)")
        context.close()


if __name__ == "__main__":
    main()
