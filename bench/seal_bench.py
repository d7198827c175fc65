"""Sealing throughput of ``sealsvc.pades.seal_pdf`` next to bare pyHanko signing.

    python bench/seal_bench.py [--seconds 1.5]

For RSA-2048 and SM2, and a 1-page and a 100-page Chinese PDF (``tests/pdf_fixtures``), it
measures per-document time of

* **bare pyHanko**: ``PdfSigner(...).sign_pdf`` with its defaults (dry-run size estimate,
  no stamp) and, for RSA, ``SimpleSigner.load`` from a PKCS#8 PEM key — what a caller
  gets out of the box.  ``cryptography`` cannot load SM2 keys, so the SM2 baseline is
  the same default path with our ``KeyHandleSigner``;
* **seal_pdf** with a visible stamp at B-B, B-T (in-process RFC 3161 TSA) and B-LT (plus
  DSS with CRLs and an OCSP answer).

Goals (from the issue): B-B with a visible stamp at ≥ 3× the rate of bare pyHanko, and
B-T at ≤ 1.5× the time of B-B.  Certificates are loaded from DER, as the registry hands
them over.  Runs on one thread, in well under three minutes.

Method: every figure is the *median* wall-clock time of single documents, after one
warm-up document each.  The three ``seal_pdf`` levels are measured in one loop that
seals one document at each level per round, in turn, for ``--seconds`` per level — so
load from other processes on a shared machine hits B-B, B-T and B-LT alike, and the
median drops the documents that a burst of such load or a garbage collection happened
to hit.  The levels do the same work apart from what the level adds: same PDF, key,
stamp and placement, a fresh signature and (B-T, B-LT) a fresh time-stamp token per
document.  Bare pyHanko, ~10× slower, is measured on its own, also as a median.
"""

from __future__ import annotations

import argparse
import functools
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from asn1crypto import ocsp, pem, x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers.pdf_fixtures import chinese_pdf, reportlab_seal_pdf
from helpers.pki_fixtures import Hierarchy, build_hierarchy, empty_crls, write_pem

from pki.ocsp import CertStatus, OcspResponder, build_request
from pki.pdf_signer import KeyHandleSigner
from pki.tsa import TimeStampAuthority
from sealsvc.pades import (
    Level,
    Placement,
    RevocationMaterial,
    SealingMaterial,
    SealOptions,
    TsaTimeStamper,
    seal_pdf,
)

__all__ = ["main", "measure", "measure_interleaved"]

_K = TypeVar("_K")

RATE_GOAL = 3.0
TIMESTAMP_GOAL = 1.5
PLACEMENT = Placement(page=1, x_mm=150, y_mm=60)


def measure(action: Callable[[], object], seconds: float, minimum: int = 3) -> float:
    """Median seconds per call, after one warm-up call, over at least ``minimum`` calls."""
    return measure_interleaved({None: action}, seconds, minimum)[None]


def measure_interleaved(
    actions: dict[_K, Callable[[], object]], seconds: float, minimum: int = 3
) -> dict[_K, float]:
    """Median seconds per call of each action, calling them in turn round after round.

    One warm-up call each, then rounds of one call per action (rotating which goes first)
    for at least ``minimum`` rounds and ``seconds`` per action.
    """
    keys = list(actions)
    for key in keys:
        actions[key]()
    times: dict[_K, list[float]] = {key: [] for key in keys}
    start = time.perf_counter()
    rounds = 0
    while rounds < minimum or time.perf_counter() - start < seconds * len(keys):
        for key in keys[rounds % len(keys) :] + keys[: rounds % len(keys)]:
            began = time.perf_counter()
            actions[key]()
            times[key].append(time.perf_counter() - began)
        rounds += 1
    return {key: statistics.median(values) for key, values in times.items()}


def _loaded(certificate: x509.Certificate) -> x509.Certificate:
    return x509.Certificate.load(certificate.dump())


def _material(h: Hierarchy) -> SealingMaterial:
    seal, issuing, root, tsa_cert = (_loaded(c) for c in (h.seal, h.issuing, h.root, h.tsa))
    tsa = TimeStampAuthority(tsa_cert, h.tsa_key, [issuing, root])
    crls = empty_crls(h, issuing, root)
    responder = OcspResponder(h.ocsp, h.ocsp_key, issuing, lambda serial: CertStatus("good"))

    def validation_data() -> RevocationMaterial:
        answer = responder.respond(build_request(seal, issuing, hash_algo="sha256"))
        return RevocationMaterial(
            certificates=(tsa_cert, _loaded(h.ocsp)),
            crls=crls,
            ocsp_responses=(ocsp.OCSPResponse.load(answer),),
        )

    return SealingMaterial(
        key=h.seal_key,
        certificate=seal,
        chain=(issuing, root),
        stamp_pdf=reportlab_seal_pdf(),
        timestamper=TsaTimeStamper(tsa.respond),
        validation_data=validation_data,
    )


def _bare_signer(h: Hierarchy, directory: Path) -> signers.Signer:
    if h.family == "sm2":
        return KeyHandleSigner(h.seal_key, _loaded(h.seal), [_loaded(h.issuing), _loaded(h.root)])
    key_file = directory / "seal.key.pem"
    key_file.write_bytes(pem.armor("PRIVATE KEY", h.seal_key.pkcs8_der()))
    return signers.SimpleSigner.load(
        str(key_file),
        str(write_pem(directory, "seal.pem", h.seal)),
        ca_chain_files=[str(write_pem(directory, "chain.pem", h.issuing, h.root))],
    )


def _bare_sign(signer: signers.Signer, pdf: bytes, digest: str) -> bytes:
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1", md_algorithm=digest, subfilter=fields.SigSeedSubFilter.PADES
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    return signers.PdfSigner(meta, signer).sign_pdf(writer).getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="time per measurement")
    args = parser.parse_args(argv)
    console = Console()
    table = Table(title="PAdES sealing, per document (one thread)")
    for column in ("family", "pages", "what", "ms/doc", "docs/s", "vs bare", "goal"):
        table.add_column(column, justify="right" if column not in ("what", "goal") else "left")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for family in ("rsa", "sm2"):
            h = build_hierarchy(family)
            material = _material(h)
            bare_signer = _bare_signer(h, Path(tmp))
            digest = "sm3" if family == "sm2" else "sha256"
            for pages in (1, 100):
                pdf = chinese_pdf(pages)
                bare = measure(
                    functools.partial(_bare_sign, bare_signer, pdf, digest), args.seconds
                )
                bare_label = "bare pyHanko" + (" (KeyHandleSigner)" if family == "sm2" else "")
                table.add_row(family, str(pages), bare_label, f"{bare * 1000:.1f}",
                              f"{1 / bare:.1f}", "1.00×", "")  # fmt: skip
                levels = (Level.B_B, Level.B_T, Level.B_LT)
                times = measure_interleaved(
                    {
                        level: functools.partial(
                            seal_pdf, pdf, material, SealOptions(level=level, placement=PLACEMENT)
                        )
                        for level in levels
                    },
                    args.seconds,
                )
                for level in levels:
                    speedup = bare / times[level]
                    goal = ""
                    if level is Level.B_B:
                        ok = speedup >= RATE_GOAL
                        goal = f"{'ok' if ok else 'MISSED'} (≥ {RATE_GOAL:g}× bare rate)"
                    elif level is Level.B_T:
                        ratio = times[Level.B_T] / times[Level.B_B]
                        ok = ratio <= TIMESTAMP_GOAL
                        goal = f"{'ok' if ok else 'MISSED'} ({ratio:.2f}× B-B time, ≤ 1.5)"
                    else:
                        ok = True
                    failures += not ok
                    table.add_row(family, str(pages), f"seal_pdf {level} + stamp",
                                  f"{times[level] * 1000:.1f}", f"{1 / times[level]:.1f}",
                                  f"{speedup:.2f}×", goal)  # fmt: skip
    console.print(table)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
