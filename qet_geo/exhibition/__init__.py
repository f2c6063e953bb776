"""The diagnostic: its orchestration (:mod:`~qet_geo.exhibition.diagnose`) and its report
(:mod:`~qet_geo.exhibition.report`), the exhibition of the forum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__ = attach(__name__, ["diagnose", "report"])

if TYPE_CHECKING:
    from qet_geo.exhibition.diagnose import *
    from qet_geo.exhibition.report import *
