"""The network's public pages, ``/reseau/...`` (issue 17).

(Being written: see the module's final docstring.)
"""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
