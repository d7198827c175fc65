"""Enterprise identities for tests: fresh, valid 统一社会信用代码 (unified social credit codes).

Each registration needs a code nobody used before in the data directory; a counter makes
them unique and the GB 32100 check character makes them valid."""

from __future__ import annotations

import itertools

from sealsvc import creditcode

_serials = itertools.count(1)


def new_credit_code() -> str:
    """A fresh valid 统一社会信用代码 (GB 32100 check character computed)."""
    first17 = f"91410100MA{next(_serials):07d}"
    return first17 + creditcode.check_char(first17)
