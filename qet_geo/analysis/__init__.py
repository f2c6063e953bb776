"""Analysis: usage profiles, carbon footprints, links between usages and built constraints,
and the national comparison.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
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
        "links": [
            "Change",
            "ConstraintModels",
            "DEFAULT_SCENARIOS",
            "INDICATOR_UNITS",
            "IndicatorUnit",
            "OPERATIONS",
            "PROFILE_INDICATORS",
            "Scenario",
            "USAGE_CONSTRAINTS",
            "building_indicators",
            "constraint_models",
            "indicator_unit",
            "join_constraints",
            "link_report",
            "margins_of_manoeuvre",
            "profile_constraints",
            "read_located_answers",
        ],
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
    },
)

if TYPE_CHECKING:
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
    from qet_geo.analysis.links import (
        DEFAULT_SCENARIOS,
        INDICATOR_UNITS,
        OPERATIONS,
        PROFILE_INDICATORS,
        USAGE_CONSTRAINTS,
        Change,
        ConstraintModels,
        IndicatorUnit,
        Scenario,
        building_indicators,
        constraint_models,
        indicator_unit,
        join_constraints,
        link_report,
        margins_of_manoeuvre,
        profile_constraints,
        read_located_answers,
    )
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
