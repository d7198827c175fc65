""" "1+X": a 营业执照 with its enterprise seal set vs the licence alone, in the same run.

    python bench/enterprise_bench.py [--count 5]

Sets up a throw-away data directory (both CAs, the seed departments, an RSA 公章 of
郑州市市场监督管理局), then issues 营业执照 at PDF B-T from the template's example data, each
for a new enterprise (credit code and name of its own): ``count`` licences alone
(:func:`sealsvc.licences.issue_licence`), then ``count`` with the full set of five SM2 seals
(:func:`sealsvc.enterprise.issuance.issue_licence_with_seals`: keys, certificates,
``SESeal`` objects, images, API key, one transaction). The difference is what the set
costs; both are reported as wall and CPU time per licence. A warm-up of each is not counted.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from licence_bench import ACTOR, TEMPLATE, _data, _environ, _setup

from sealsvc import creditcode
from sealsvc.config import Settings
from sealsvc.context import ServiceContext
from sealsvc.enterprise.catalogue import CATALOGUE
from sealsvc.enterprise.issuance import issue_licence_with_seals
from sealsvc.licences import issue_licence, load_template
from sealsvc.pades import Level
from sealsvc.sealing import Sealer

_serials = itertools.count(1)


def _enterprise(example: dict[str, str]) -> dict[str, str]:
    """The example data for a new enterprise: its own credit code and name."""
    serial = next(_serials)
    first17 = f"91410100MA{serial:07d}"
    data = _data(example, serial)
    data.pop("authority", None)
    return {**data, "uscc": first17 + creditcode.check_char(first17)}


def _measure(count: int, issue: Callable[[], object]) -> tuple[float, float]:
    """(wall ms, CPU ms) per call of ``issue``, after one warm-up."""
    issue()
    cpu, start = time.process_time(), time.perf_counter()
    for _ in range(count):
        issue()
    return (1000 * (time.perf_counter() - start) / count,
            1000 * (time.process_time() - cpu) / count)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5, help="licences per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="enterprise-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        code = _setup(data_dir)["pdf"]
        context = ServiceContext(Settings.load(data_dir, _environ()))
        template = load_template(TEMPLATE)
        sealer = Sealer(context)
        kinds = [spec.kind for spec in CATALOGUE]
        options = {"actor": ACTOR, "level": Level.B_T, "sealer": sealer}

        def alone() -> object:
            return issue_licence(context, template, _enterprise(template.example), [code],
                                 **options)  # fmt: skip

        def with_set() -> object:
            return issue_licence_with_seals(context, TEMPLATE, _enterprise(template.example),
                                            [code], kinds, **options)  # fmt: skip

        print(f"{'run':<34} {'n':>3} {'wall ms':>8} {'cpu ms':>7}")
        base = _measure(args.count, alone)
        print(f"{'营业执照 alone (PDF B-T)':<30} {args.count:>3} {base[0]:>8.0f} {base[1]:>7.0f}")
        full = _measure(args.count, with_set)
        print(
            f"{'营业执照 + 5 SM2 seals (1+X)':<29} {args.count:>3} {full[0]:>8.0f} {full[1]:>7.0f}"
        )
        print(f"the set costs {full[0] - base[0]:.0f} ms wall, {full[1] - base[1]:.0f} ms CPU "
              f"({(full[1] - base[1]) / len(kinds):.0f} ms CPU per seal)")  # fmt: skip
        context.close()


if __name__ == "__main__":
    main()
