"""The seal domain of sealsvc: departments, seals, lifecycle, sealing, verification, licences.

Built on ``pki`` (which knows nothing of seals); used by ``api`` (which adds only HTTP).
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed distribution when first asked for.

    One number for the package, the OpenAPI document and the OFD signatures' ``Provider``
    (pyproject.toml). Looked up lazily because ``importlib.metadata`` costs more than all of
    ``sealctl --help`` may take.
    """
    if name == "__version__":
        from importlib.metadata import version

        return version("sealsvc")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
