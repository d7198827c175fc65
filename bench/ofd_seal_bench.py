"""OFD sealing of a licence page next to PAdES B-B of the same licence's PDF, in one run.

    python bench/ofd_seal_bench.py [--seconds 1.0]

One business licence (营业执照, one page) is rendered once as PDF and as OFD from the same
layout; both are sealed with the same registered SM2 seal (key in the key store; SQLite
registry and audit log in a temporary data directory), at two levels:

* **the format** — what ``seal_bench`` measures for PDF: the document and the signature,
  given the seal's material.  OFD: read the package (hostile-ZIP checks), add the
  signature (:func:`ofd.signatures.add_signature`: ``Signatures.xml``, ``Seal.esl``,
  ``Signature.xml`` with SM3 References and the ``StampAnnot``), the ``SES_Signature``
  (:func:`pki.ses.sign_ses`, SM2 key from the key store; B-T with our SM2 TSA's token
  inside), write the ZIP; the stamp's box is given (working it out from page and position,
  as the service call does, reads the page's size: 0.3 ms).  PDF:
  :func:`sealsvc.pades.seal_pdf` at B-B with the seal's stamp at the template's seal spot.
* **the service call** — :func:`sealsvc.ofd_sealing.seal_ofd` and
  :meth:`sealsvc.sealing.Sealer.seal`: the same plus the registry checks (seal status,
  current SESeal) and the ``seal.use`` audit transaction, alike for both formats.

Goal (issue 17): OFD sealing ≤ 5 ms per licence page at B-B (no time-stamp), read as the
format level, as ``seal_bench`` reads "sealing"; B-T and the service call are reported
next to it.  Each figure is a median over rounds that seal one document per action in
turn (:func:`seal_bench.measure_interleaved`), so load from other processes on a shared
machine hits every action alike; wall and CPU time are both given, because on a shared
2-core machine the wall time says as much about the other processes as about this one
(everything here, TSA and SQLite included, runs in this process, so CPU time is its
cost).  The goal is judged on the wall time when that meets it, else on the CPU time,
and the line says which.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from seal_bench import measure_interleaved

from ofd.package import OfdPackage
from ofd.signatures import StampPlacement, add_signature
from pki.certificates import load_certificate
from pki.ses import sign_ses
from pki.sm2 import sm3
from sealsvc import departments, seals, ses_seals
from sealsvc.config import Settings
from sealsvc.context import ServiceContext
from sealsvc.licences import LicencePage, QrCode, data_hash, load_template, verification_url
from sealsvc.licences.render import render_licence
from sealsvc.licences.render_ofd import render_licence_ofd
from sealsvc.ofd_sealing import PROVIDER, seal_ofd
from sealsvc.pades import Level, Placement, SealingMaterial, SealOptions, seal_pdf
from sealsvc.sealing import Sealer

PASSPHRASE = "bench passphrase, not a secret"
ACTOR = "bench"
TEMPLATE = "business_licence"
GOAL_MS = 5.0
ISSUED = datetime(2024, 3, 15, 2, 30, tzinfo=UTC)


def _licence() -> tuple[bytes, bytes, Placement]:
    """The PDF and the OFD of one licence, and its first seal spot as a placement."""
    template = load_template(TEMPLATE)
    data = template.validate_data(template.example)
    number = f"{template.spec.number_prefix}2024031500000001"
    url = verification_url(
        "https://zwfw.zhengzhou.example", number, data_hash(number, 1, TEMPLATE, data)
    )
    page = LicencePage(number, 1, data, QrCode.encode(url), ISSUED)
    spot = template.spec.seals[0]
    placement = Placement(page=spot.page, x_mm=spot.x_mm, y_mm=spot.y_mm)
    return render_licence(template, page), render_licence_ofd(template, page), placement


def _measure(
    actions: dict[tuple[str, str], Callable[[], object]], seconds: float
) -> dict[tuple[str, str], tuple[float, float]]:
    """Median (wall, CPU) seconds per call of each action: :func:`seal_bench.measure_interleaved`
    for the wall time, each call's CPU time recorded alongside (the warm-up call left out)."""
    cpu: dict[tuple[str, str], list[float]] = {key: [] for key in actions}

    def timed(key: tuple[str, str], action: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            began = time.process_time()
            action()
            cpu[key].append(time.process_time() - began)

        return run

    walls = measure_interleaved({key: timed(key, a) for key, a in actions.items()}, seconds, 5)
    return {key: (walls[key], statistics.median(cpu[key][1:])) for key in actions}


def _setup(data_dir: Path) -> tuple[ServiceContext, str]:
    context = ServiceContext(Settings.load(data_dir, {"SEALSVC_PASSPHRASE": PASSPHRASE}))
    context.database.migrate()
    with context.database.session() as session:
        context.ca.initialise(session, actor=ACTOR, dev=True)
        departments.import_seed(session, actor=ACTOR)
    code = seals.issue(
        context, department="郑州市市场监督管理局", kind="公章", algorithm="sm2", actor=ACTOR
    ).code
    return context, code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args(argv)
    pdf, ofd, placement = _licence()
    with tempfile.TemporaryDirectory(prefix="ofd-seal-bench-") as tmp:
        context, code = _setup(Path(tmp) / "data")
        sealer = Sealer(context)
        with context.database.session(read_only=True) as session:
            material = seals.signing_material(session, code)
            ses_seal = ses_seals.current(session, code).der
        key = context.keystore.signer(material.key_id)
        tsa = sealer.trust.tsa(material.hierarchy)
        stamp = StampPlacement(0, (214.0, 130.0, 42.0, 42.0))

        def ofd_format(timestamp: bool) -> Callable[[], bytes]:
            def stamp_token(value: bytes) -> bytes:
                return tsa.stamp(sm3(value), "sm3").dump()

            def signed_value(xml: bytes, path: str) -> bytes:
                return sign_ses(
                    seal=ses_seal,
                    signer_certificate=material.certificate_der,
                    signer=key,
                    data_hash=sm3(xml),
                    property_info=path,
                    signing_time=datetime.now(UTC),
                    timestamper=stamp_token if timestamp else None,
                )

            return lambda: add_signature(
                OfdPackage.read(ofd),
                signed_value,
                provider=PROVIDER,
                signature_time=datetime.now(UTC),
                stamps=[stamp],
                seal=ses_seal,
            ).to_bytes()

        pdf_material = SealingMaterial(
            key=key,
            certificate=load_certificate(material.certificate_der),
            chain=tuple(load_certificate(der) for der in material.chain_ders),
            stamp_pdf=seals.seal_stamp_pdf(material.appearance),
        )
        pades = SealOptions(level=Level.B_B, placement=placement)

        def ofd_service(timestamp: bool) -> Callable[[], object]:
            return lambda: seal_ofd(
                context, ofd, code, placement, timestamp=timestamp, actor=ACTOR,
                trust=sealer.trust, trusted_input=True,
            )  # fmt: skip

        medians = _measure(
            {
                ("format", "OFD B-B"): ofd_format(False),
                ("format", "OFD B-T"): ofd_format(True),
                ("format", "PDF PAdES B-B"): lambda: seal_pdf(pdf, pdf_material, pades),
                ("service", "OFD B-B"): ofd_service(False),
                ("service", "OFD B-T"): ofd_service(True),
                ("service", "PDF PAdES B-B"): lambda: sealer.seal(
                    pdf, code, pades, actor=ACTOR, trusted_input=True
                ),
            },
            args.seconds,
        )
        context.close()
    table = Table(title=f"Sealing one {TEMPLATE} page with an SM2 seal (one thread)")
    for column in ("level", "what", "input", "ms/doc wall", "ms/doc CPU", "vs PDF B-B", "goal"):
        table.add_column(column, justify="left" if column in ("level", "what", "goal") else "right")
    missed = 0
    for (level, what), (wall, cpu) in medians.items():
        goal = ""
        if (level, what) == ("format", "OFD B-B"):
            judged, on = (wall, "wall") if wall * 1000 <= GOAL_MS else (cpu, "CPU")
            ok = judged * 1000 <= GOAL_MS
            missed += not ok
            goal = f"{'ok' if ok else 'MISSED'} (≤ {GOAL_MS:g} ms per licence page, {on})"
        size = len(pdf) if "PDF" in what else len(ofd)
        table.add_row(
            level, what, f"{size // 1024} KiB", f"{wall * 1000:.1f}", f"{cpu * 1000:.1f}",
            f"{wall / medians[level, 'PDF PAdES B-B'][0]:.2f}×", goal,
        )  # fmt: skip
    Console().print(table)
    print(
        "format = the document and the signature given the seal's material; service = "
        "seal_ofd / Sealer.seal, adding the registry checks and the audit transaction "
        "(SQLite). B-T adds our TSA's token (in-process) inside the SES_Signature."
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
