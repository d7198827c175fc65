"""The seal domain of sealsvc: departments, seals, lifecycle, sealing, verification, licences.

Built on ``pki`` (which knows nothing of seals); used by ``api`` (which adds only HTTP).
"""

from importlib.metadata import version

__version__ = version("sealsvc")
"""The installed distribution's version (pyproject.toml): one number for the package, the
OpenAPI document and the OFD signatures' ``Provider``."""
