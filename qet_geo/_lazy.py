"""Lazy exports for the subpackages, so that ``qet --help`` imports nothing heavy.

A subpackage's ``__init__`` lists its public modules; a name is looked up in their ``__all__``,
in that order, and imported on first access (as scientific-python's ``lazy_loader`` does). The
names are written once, in each module's ``__all__``; for type checkers the ``__init__`` star
imports the same modules under ``TYPE_CHECKING``. ``tests/test_layout.py`` checks that every
exported name resolves to its module's object and that no two modules export the same name.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any


def attach(
    package: str, modules: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``__getattr__`` and ``__dir__`` for ``package``.

    Parameters
    ----------
    package
        The package's ``__name__``.
    modules
        Its public modules, by name without the package.
    """

    def _module(name: str) -> Any:
        return importlib.import_module(f"{package}.{name}")

    def __getattr__(name: str) -> Any:
        if name in modules:
            return _module(name)
        if name.startswith("_"):
            # a private module not imported yet (``from package import _module`` asks the
            # package first, then imports it): looking it up in every public module imported
            # them all (GTFS, rasters, census: 0.8 s at every command reading OSM)
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        for module in modules:
            found = _module(module)
            if name in getattr(found, "__all__", ()):
                value = getattr(found, name)
                setattr(sys.modules[package], name, value)  # found once, then a plain attribute
                return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        names = {n for module in modules for n in getattr(_module(module), "__all__", ())}
        return sorted(names | set(modules))

    return __getattr__, __dir__
