"""Packages that load their names on first use (sealsvc/lazyimport.py) still export them."""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

import pytest

from sealsvc import licences, sealimage


@pytest.mark.parametrize(
    ("package", "name"),
    [(package, name) for package in (licences, sealimage) for name in package.__all__],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_every_exported_name_resolves(package: ModuleType, name: str) -> None:
    value = getattr(package, name)
    assert value is not None
    if inspect.isclass(value) or inspect.isfunction(value):  # defined in the package itself
        assert value.__module__.startswith(f"{package.__name__}.")
        assert getattr(importlib.import_module(value.__module__), name) is value


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'render_gif'"):
        sealimage.render_gif  # noqa: B018  the lookup itself is the test


def test_the_function_layout_is_not_shadowed_by_its_module() -> None:
    assert callable(sealimage.layout) and sealimage.layout.__name__ == "layout"
