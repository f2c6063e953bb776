"""Analysis: usage profiles, carbon footprints, links between usages and built constraints
(answers joined to their homes, the constraints of each profile, models per usage, scenarios and
margins of manoeuvre, the link report), and the national comparison.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__ = attach(
    __name__,
    [
        "constraint_profiles",
        "footprint",
        "france_map",
        "homes",
        "links",
        "margins",
        "models",
        "national",
        "perceived",
        "profiles",
        "project_effect",
        "reference",
        "scenarios",
        "similar",
    ],
)

if TYPE_CHECKING:
    from qet_geo.analysis.constraint_profiles import *
    from qet_geo.analysis.footprint import *
    from qet_geo.analysis.france_map import *
    from qet_geo.analysis.homes import *
    from qet_geo.analysis.links import *
    from qet_geo.analysis.margins import *
    from qet_geo.analysis.models import *
    from qet_geo.analysis.national import *
    from qet_geo.analysis.perceived import *
    from qet_geo.analysis.profiles import *
    from qet_geo.analysis.project_effect import *
    from qet_geo.analysis.reference import *
    from qet_geo.analysis.scenarios import *
    from qet_geo.analysis.similar import *
