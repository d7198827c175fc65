"""Write docs/pdf-interop.md: what pyHanko, pdfsig and sealsvc say about third-party PDFs.

Every cell is measured by running the tools on ``tests/data/pdf-interop/*.pdf``, so the
table cannot drift from what the code does: ``python scripts/pdf_interop_table.py``
(needs poppler-utils' ``pdfsig``).  pyHanko runs its own validator
(``validate_pdf_signature`` with difference analysis) with no trust roots, as sealsvc
does; encrypted files are opened with the empty user password.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

from sealsvc.verification import TrustAnchors, verify

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "pdf-interop"
OUT = ROOT / "docs" / "pdf-interop.md"


def _count(items: list[str]) -> str:
    counts = Counter(items)
    return "; ".join(f"{n}× {what}" if n > 1 else what for what, n in counts.items()) or "—"


def pyhanko_says(path: Path) -> str:
    """Per signature: intact or not, and whether pyHanko's diff analysis allows the changes."""
    try:
        with path.open("rb") as handle:
            reader = PdfFileReader(handle, strict=False)
            if reader.encrypted:
                reader.decrypt("")
            results = []
            for sig in reader.embedded_signatures:
                context = ValidationContext(allow_fetching=False)
                try:
                    if sig.sig_object_type == "/DocTimeStamp":
                        status = validate_pdf_timestamp(sig, context)
                    else:
                        status = validate_pdf_signature(sig, context)
                    level = status.modification_level
                    changes = (
                        "changes not allowed"
                        if level is None or level is ModificationLevel.OTHER
                        else level.name
                    )
                    results.append(
                        f"{'intact' if status.intact else 'NOT intact'}"
                        f"{'' if status.valid else ' (sig invalid)'}, {changes}"
                    )
                except Exception as exc:  # the table records what the tool does, errors too
                    results.append(f"error: {type(exc).__name__}")
            return _count(results)
    except Exception as exc:
        return f"cannot read: {type(exc).__name__}"


def pdfsig_says(path: Path) -> str:
    """poppler's verdict on each signature (``Signature Validation: …``)."""
    run = subprocess.run(
        ["pdfsig", "-nocert", str(path)], capture_output=True, text=True, timeout=120
    )
    verdicts = [
        line.split(":", 1)[1].strip()
        for line in run.stdout.splitlines()
        if line.strip().startswith("- Signature Validation:")
    ]
    if not verdicts:  # e.g. "The signature form field is not signed."
        lines = (run.stdout + run.stderr).strip().splitlines()
        return lines[-1].strip()[:60] if lines else f"exit {run.returncode}"
    return _count(verdicts)


def sealsvc_says(path: Path) -> tuple[str, str]:
    """Document verdict, and the per-signature indications."""
    report = verify(path.read_bytes(), trust=TrustAnchors(()))
    per_signature = [
        s.indication.name if s.sub_indication is None else s.sub_indication.standard_name
        for s in report.signatures
    ]
    verdict = report.verdict.value
    if report.sub_indication is not None:
        verdict += f" / {report.sub_indication.standard_name}"
    return verdict, _count(per_signature)


def main() -> int:
    logging.disable(logging.WARNING)
    rows = [
        "| file | pyHanko (validate_pdf_signature) | pdfsig | sealsvc verdict | sealsvc per "
        "signature |",
        "|---|---|---|---|---|",
    ]
    for path in sorted(DATA.glob("*.pdf")):
        verdict, per_signature = sealsvc_says(path)
        rows.append(
            f"| {path.name} | {pyhanko_says(path)} | {pdfsig_says(path)} | {verdict} | "
            f"{per_signature} |"
        )
    intro = (OUT.read_text(encoding="utf-8").split("<!-- table -->")[0]).rstrip()
    OUT.write_text(f"{intro}\n\n<!-- table -->\n" + "\n".join(rows) + "\n", encoding="utf-8")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
