"""Analysis: usage profiles, carbon footprints, links between usages and built constraints
(answers joined to their homes, the constraints of each profile, models per usage, scenarios and
margins of manoeuvre, the link report), and the national comparison.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "constraint_profiles": ["profile_constraints"],
        "footprint": [
            "NGC_SCALE_PATH",
            "NGC_USAGE_SOURCES",
            "SCALES",
            "neighbourhood_footprint",
            "ngc_usage_footprints",
            "profile_footprints",
            "read_ngc_results",
            "read_ngc_scale",
            "su_footprints",
            "usage_scale",
        ],
        "homes": ["building_indicators", "join_constraints"],
        "links": ["LinkReport", "link_report"],
        "margins": ["margins_of_manoeuvre"],
        "models": ["ConstraintModels", "constraint_models"],
        "national": [
            "ConstraintTypology",
            "before_after",
            "before_after_moments",
            "compare_neighbourhoods",
            "national_table",
        ],
        "profiles": [
            "METHODS",
            "Stability",
            "UsageProfiles",
            "bootstrap_stability",
            "national_profiles",
            "profile_mix",
        ],
        "reference": ["SURVEY0_PROFILES", "reference_profiles"],
        "scenarios": ["DEFAULT_SCENARIOS", "OPERATIONS", "Change", "Scenario"],
    },
)

if TYPE_CHECKING:
    from qet_geo.analysis.constraint_profiles import profile_constraints
    from qet_geo.analysis.footprint import (
        NGC_SCALE_PATH,
        NGC_USAGE_SOURCES,
        SCALES,
        neighbourhood_footprint,
        ngc_usage_footprints,
        profile_footprints,
        read_ngc_results,
        read_ngc_scale,
        su_footprints,
        usage_scale,
    )
    from qet_geo.analysis.homes import building_indicators, join_constraints
    from qet_geo.analysis.links import LinkReport, link_report
    from qet_geo.analysis.margins import margins_of_manoeuvre
    from qet_geo.analysis.models import ConstraintModels, constraint_models
    from qet_geo.analysis.national import (
        ConstraintTypology,
        before_after,
        before_after_moments,
        compare_neighbourhoods,
        national_table,
    )
    from qet_geo.analysis.profiles import (
        METHODS,
        Stability,
        UsageProfiles,
        bootstrap_stability,
        national_profiles,
        profile_mix,
    )
    from qet_geo.analysis.reference import SURVEY0_PROFILES, reference_profiles
    from qet_geo.analysis.scenarios import DEFAULT_SCENARIOS, OPERATIONS, Change, Scenario
