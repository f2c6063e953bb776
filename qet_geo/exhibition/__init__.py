"""The diagnostic: its orchestration (:mod:`~qet_geo.exhibition.diagnose`) and its report
(:mod:`~qet_geo.exhibition.report`), the exhibition of the forum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "diagnose": [
            "DiagnosticConfig",
            "DiagnosticResult",
            "STEPS",
            "load_config",
            "run_diagnostic",
        ],
        "report": ["ReportContent", "render_report"],
    },
)

if TYPE_CHECKING:
    from qet_geo.exhibition.diagnose import (
        STEPS,
        DiagnosticConfig,
        DiagnosticResult,
        load_config,
        run_diagnostic,
    )
    from qet_geo.exhibition.report import ReportContent, render_report
