"""A package's public names, each imported from its module when first used (PEP 562).

A package ``__init__`` that re-exports its modules' names would import all of them, and
with them reportlab, Pillow or pyHanko, whenever any one submodule is used: ``sealctl
verify`` reads one sentence from ``sealsvc.licences.wording`` and should not load the
licence renderer for it. Such a package lists where each name lives and sets
``__getattr__ = lazy_exports(__name__, {...})``; type checkers read the same names from
an ``if TYPE_CHECKING:`` import block beside it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence


def lazy_exports(package: str, homes: Mapping[str, Sequence[str]]) -> Callable[[str], object]:
    """The module ``__getattr__`` of ``package``: ``homes`` maps each submodule to the names
    it exports."""
    home_of = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> object:
        if name not in home_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{home_of[name]}"), name)

    return __getattr__
