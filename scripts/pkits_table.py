#!/usr/bin/env python3
"""Write docs/pkits.md: the NIST PKITS table (RSA and SM2) as the engine computes it.

Usage: .venv/bin/python scripts/pkits_table.py   (tests/test_pkits.py checks the result)
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from pkits_cases import PKITS, table  # noqa: E402
from pkits_sm2 import sm2_pkits  # noqa: E402

if __name__ == "__main__":
    # certvalidator logs every rejected CRL issuer path with a traceback; the table is
    # the output here.
    logging.disable(logging.CRITICAL)
    (ROOT / "docs" / "pkits.md").write_text(table(sm2_pkits(PKITS).load))
