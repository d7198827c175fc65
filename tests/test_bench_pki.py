"""``bench/pki_bench.py`` reads real ``openssl speed`` output and pairs rounds correctly.

The benchmark is not timed here (speed is measured in ``bench/``, not in tests); these
tests keep it from silently reporting nonsense when OpenSSL changes its output format.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "bench" / "pki_bench.py"
_spec = importlib.util.spec_from_file_location("pki_bench", _PATH)
pki_bench = importlib.util.module_from_spec(_spec)
sys.modules["pki_bench"] = pki_bench
_spec.loader.exec_module(pki_bench)


@pytest.mark.parametrize(
    ("speed_name", "row_label"), [(name, label) for _, name, label in pki_bench.ALGORITHMS]
)
def test_openssl_speed_rows_are_found_and_plausible(speed_name: str, row_label: str) -> None:
    sign, verify = pki_bench.openssl_speed(speed_name, row_label, 1)
    # Any machine that runs the suite signs at least 50/s and at most a few million/s.
    assert 50 < sign < 5e6
    assert 50 < verify < 5e6


def test_an_unknown_row_is_an_error_not_a_zero() -> None:
    with pytest.raises(RuntimeError, match="no 'no such row' row"):
        pki_bench.openssl_speed("ecdsap256", "no such row", 1)


def test_ratio_is_the_median_of_the_rounds_paired() -> None:
    result = pki_bench.Result(
        "p256",
        "sign",
        ours=[90.0, 50.0, 100.0],
        library=[1.0, 1.0, 1.0],
        openssl=[100.0, 100.0, 50.0],
    )
    assert result.ratios == [0.9, 0.5, 2.0]
    assert result.ratio == 0.9  # not 100/100 (best against best) nor 80/83 (means)


def test_library_ratio_is_paired_per_round_too() -> None:
    result = pki_bench.Result(
        "rsa2048",
        "verify",
        ours=[90.0, 50.0, 200.0],
        library=[100.0, 100.0, 100.0],
        openssl=[1.0] * 3,
    )
    assert result.library_ratio == 0.9
