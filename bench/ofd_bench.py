"""OFD licence rendering next to PDF rendering of the same licences, in the same run.

    python bench/ofd_bench.py [--count 40]

For each bundled template, ``--count`` licences with distinct data (the holder's name
changes, so every OFD needs new font subsets: nothing is served from a cache) are
rendered as PDF (reportlab) and as OFD (:mod:`sealsvc.licences.render_ofd`) from the same
layout; the layout alone is timed too, as the part both share. Then the OFD is read back
(:func:`ofd.reader.read_ofd`) and drawn at 96 dpi (:func:`ofd.raster.render_page`), what
a verification page showing the licence face would do. One warm-up licence per template
is not counted (it loads fonts). Wall and CPU milliseconds per licence.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ofd.raster import render_page
from ofd.reader import read_ofd
from sealsvc.licences import (
    LicencePage,
    QrCode,
    data_hash,
    list_templates,
    render_licence,
    verification_url,
)
from sealsvc.licences.layout import lay_out
from sealsvc.licences.render_ofd import render_licence_ofd
from sealsvc.licences.templates import Template

ISSUED = datetime(2024, 3, 15, 2, 30, tzinfo=UTC)
VARIANTS = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"


def _pages(template: Template, count: int) -> list[LicencePage]:
    example = template.validate_data(template.example)
    holder = template.spec.paper_fields.holder if template.spec.paper_fields else None
    pages = []
    for index in range(count + 1):
        data = dict(example)
        if holder:
            data[holder] = example[holder][:20] + VARIANTS[index % 22] + VARIANTS[index // 22 % 22]
        number = f"{template.spec.number_prefix}20240315{index:08d}"
        short = data_hash(number, 1, template.name, data)
        qr = QrCode.encode(verification_url("https://zwfw.zhengzhou.example", number, short))
        pages.append(LicencePage(number, 1, data, qr, ISSUED))
    return pages


def _time(work: Callable[[LicencePage], object], pages: list[LicencePage]) -> tuple[float, float]:
    """(wall ms, CPU ms) per page, the first page a warm-up."""
    work(pages[0])
    cpu, wall = time.process_time(), time.perf_counter()
    for page in pages[1:]:
        work(page)
    count = len(pages) - 1
    return (
        1000 * (time.perf_counter() - wall) / count,
        1000 * (time.process_time() - cpu) / count,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40, help="licences per template")
    args = parser.parse_args()
    columns = ("layout", "PDF", "OFD", "OFD/PDF", "read OFD", "draw 96dpi")
    print(f"{'template (ms per licence, wall/cpu)':<40}" + "".join(f"{c:>14}" for c in columns))
    for template in list_templates():
        pages = _pages(template, args.count)
        layout = _time(lambda p, t=template: lay_out(t, p), pages)
        pdf = _time(lambda p, t=template: render_licence(t, p), pages)
        ofd = _time(lambda p, t=template: render_licence_ofd(t, p), pages)
        files = {id(p): render_licence_ofd(template, p) for p in pages}
        read = _time(lambda p, f=files: read_ofd(f[id(p)]), pages)
        documents = {id(p): read_ofd(files[id(p)]) for p in pages}
        draw = _time(lambda p, d=documents: render_page(d[id(p)].pages[0], dpi=96), pages)
        cells = [f"{w:>7.1f}/{c:<6.1f}" for w, c in (layout, pdf, ofd)]
        cells.append(f"{ofd[0] / pdf[0]:>13.2f}×")
        cells += [f"{w:>7.1f}/{c:<6.1f}" for w, c in (read, draw)]
        print(f"{template.name:<40}" + "".join(cells))


if __name__ == "__main__":
    main()
