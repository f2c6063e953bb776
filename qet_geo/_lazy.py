"""Lazy exports for the subpackages, so that ``qet --help`` imports nothing heavy.

Each subpackage's ``__init__`` names, per module, the public names it re-exports; a name is
imported from its module on first access (as scientific-python's ``lazy_loader.attach`` does).
``tests/test_layout.py`` checks that these tables equal the modules' ``__all__``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def attach(
    package: str, exports: dict[str, list[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Return ``__getattr__``, ``__dir__`` and ``__all__`` for ``package``.

    Parameters
    ----------
    package
        The package's ``__name__``.
    exports
        For each module of the package (its name without the package), the public names it exports.
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        if name in exports:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(where) + sorted(exports)

    return __getattr__, __dir__, sorted(where)
