"""统一社会信用代码 (unified social credit code, GB 32100-2015): the check character.

Eighteen characters from :data:`ALPHABET` (digits and upper-case letters without I, O, Z,
S, V); the last is a modulo-31 check over the first seventeen (GB 32100-2015 §5).  Licence
data (a holder's code), the department registry (an issuer's code) and the GB/T 36904
licence identifier all need the same check, so it lives here, below both.
"""

from __future__ import annotations

__all__ = ["ALPHABET", "check_char", "is_valid"]

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters a credit code is written in, in the order of their values."""
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_char(first17: str) -> str:
    """The 18th character of a 统一社会信用代码 (GB 32100-2015 §5, modulo 31)."""
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid(code: object) -> bool:
    """Whether ``code`` is 18 characters of :data:`ALPHABET` with the right check character."""
    return (
        isinstance(code, str)
        and len(code) == 18
        and all(c in ALPHABET for c in code)
        and check_char(code[:17]) == code[17]
    )
