"""Profile posters and the profile opt-in (issue 16): residents who share a usage profile are
invited to workshops without anyone's profile being revealed.

(Being written: see the module's final docstring.)
"""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
