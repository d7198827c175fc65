"""OFD verification next to PDF verification of the same licence, in the same run.

    python bench/ofd_verify_bench.py [--seconds 3]

Sets up a throw-away data directory (both CAs, the seed departments, one SM2 公章 of
郑州市市场监督管理局), issues a 营业执照 as PDF at B-T with that seal (the licence pipeline:
PAdES, our TSA), and seals the OFD of the same licence — same number, data and layout — with
the same seal at B-T (a GB/T 38540 ``SES_Signature`` over SM3 of ``Signature.xml``,
time-stamped by the same TSA).  Both are verified through the service's
:class:`~sealsvc.verification.service.DocumentVerifier` — what ``POST /v1/verify`` runs: the
report, the registry, revocation answered in-process, the licence lookup:

* **warm** — every upload verified in full (the verdict cache kept from answering): path and
  revocation caches warm, as in a running service seeing documents of known seals;
* **cold** — every cache of the process emptied before each verification.

PDF and OFD are verified alternately, one document at a time, so that the load of a shared
machine weighs on both columns alike.

Goal (issue 17): OFD ≥ PDF documents per second, per column.  Each run asserts both
verdicts are TOTAL_PASSED.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers.ofd_verify_fixtures import licence_ofd, seal_ofd  # noqa: E402

from sealsvc import departments, seals  # noqa: E402
from sealsvc.config import Settings  # noqa: E402
from sealsvc.context import ServiceContext  # noqa: E402
from sealsvc.licences import get_licence_pdf, issue_licence, load_template  # noqa: E402
from sealsvc.pades import Level  # noqa: E402
from sealsvc.verification import DocumentVerdict  # noqa: E402
from sealsvc.verification.cache import VerdictCache  # noqa: E402
from sealsvc.verification.service import DocumentVerifier  # noqa: E402
from sealsvc.verification.ses import clear_caches as clear_ses_caches  # noqa: E402
from sealsvc.verification.validator import clear_caches  # noqa: E402

__all__ = ["main"]

PASSPHRASE = "bench passphrase, not a secret"
ACTOR = "bench"
TEMPLATE = "business_licence"
MARKET = "郑州市市场监督管理局"


def _context(data_dir: Path) -> ServiceContext:
    return ServiceContext(Settings.load(data_dir, {"SEALSVC_PASSPHRASE": PASSPHRASE}))


def _documents(context: ServiceContext) -> tuple[bytes, bytes]:
    """The licence as PDF (issued, registered) and as OFD, both sealed at B-T."""
    context.database.migrate()
    with context.database.session() as session:
        context.ca.initialise(session, actor=ACTOR, dev=True)
        departments.import_seed(session, actor=ACTOR)
        context.ca.export_files(session)
    code = seals.issue(context, department=MARKET, kind="公章", algorithm="sm2", actor=ACTOR).code
    template = load_template(TEMPLATE)
    record = issue_licence(
        context, template, template.example, [code], actor=ACTOR, level=Level.B_T
    )
    pdf = get_licence_pdf(context, record.number)
    ofd = seal_ofd(context, licence_ofd(record.number, TEMPLATE), code).to_bytes()
    return pdf, ofd


def _rates(
    runs: dict[str, Callable[[], object]], seconds: float, before: Callable[[], None]
) -> dict[str, float]:
    """Documents per second of each run, alternated one document at a time for at least
    ``seconds`` each (``before`` runs untimed before every document): a shared machine's
    load then weighs on both alike."""
    spent = dict.fromkeys(runs, 0.0)
    count = 0
    while min(spent.values()) < seconds or count < 3:
        for name, run in runs.items():
            before()
            start = time.perf_counter()
            run()
            spent[name] += time.perf_counter() - start
        count += 1
    return {name: count / total for name, total in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ofd-verify-bench-") as tmp:
        context = _context(Path(tmp) / "data")
        try:
            pdf, ofd = _documents(context)
            verifier = DocumentVerifier(context)

            def forget() -> None:
                """A new verdict cache, so that no report is served from it (the OCSP and
                CRL answers the service makes per registry state stay, as in service)."""
                verifier.cache = VerdictCache()

            def cold() -> None:
                forget()
                clear_caches()
                clear_ses_caches()

            for data in (pdf, ofd):
                result = verifier.check(data)
                assert result.report.verdict is DocumentVerdict.TOTAL_PASSED, result.report.message
                assert result.licence is not None and result.accepted
            runs = {"PDF": lambda: verifier.check(pdf), "OFD": lambda: verifier.check(ofd)}
            rates = {
                column: _rates(runs, args.seconds, cold if column == "cold" else forget)
                for column in ("warm", "cold")
            }
        finally:
            context.close()
    table = Table(title="Verifying one licence: OFD vs PDF (DocumentVerifier.check, B-T, SM2)")
    for column in ("caches", "PDF docs/s", "OFD docs/s", "PDF ms", "OFD ms", "OFD/PDF", "goal"):
        table.add_column(column, justify="left" if column in ("caches", "goal") else "right")
    for column in ("warm", "cold"):
        pdf_rate, ofd_rate = rates[column]["PDF"], rates[column]["OFD"]
        ok = ofd_rate >= pdf_rate
        table.add_row(
            column,
            f"{pdf_rate:.1f}",
            f"{ofd_rate:.1f}",
            f"{1000 / pdf_rate:.1f}",
            f"{1000 / ofd_rate:.1f}",
            f"{ofd_rate / pdf_rate:.2f}×",
            f"{'ok' if ok else 'MISSED'} (OFD ≥ PDF)",
        )
    Console(width=160).print(table)
    print(f"sizes: PDF {len(pdf):,} bytes, OFD {len(ofd):,} bytes")


if __name__ == "__main__":
    main()
