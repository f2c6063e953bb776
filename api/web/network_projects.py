"""The network's projects library, ``/reseau/projets`` (issue 17).

(Being written: see the module's final docstring.)
"""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
