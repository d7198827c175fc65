"""Only for the compiled part: ``pki._libcrypto`` (see ``pki/_libcrypto_build.py``).

Everything else about the package is declared in ``pyproject.toml``.
"""

from setuptools import setup

setup(cffi_modules=["pki/_libcrypto_build.py:ffibuilder"])
