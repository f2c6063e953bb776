"""Surveys: schemas, reading and validation, located answers, geolocation, quotas, synthetic answers.

A survey file is read in steps: :mod:`~qet_geo.surveys.tables` (decoding, bounded reading),
``_headers`` (which column is which field), ``_values`` (what each answer means), then one reader
per survey, :mod:`~qet_geo.surveys.su`, :mod:`~qet_geo.surveys.mdv` and
:mod:`~qet_geo.surveys.ngc`, each returning the :class:`~qet_geo.surveys.answers.SurveyRead` of
:mod:`~qet_geo.surveys.answers`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "answers": ["REPORT_COLUMNS", "STATUSES", "SurveyRead"],
        "geocode": [
            "ABBREVIATIONS",
            "DEFAULT_BUILDING_DISTANCE_M",
            "DEFAULT_MIN_SCORE",
            "MATCH_TYPES",
            "geocode_addresses",
            "locate_homes",
            "normalise_street",
            "parse_address",
        ],
        "located": ["read_located_answers"],
        "mdv": ["read_mdv"],
        "ngc": ["read_ngc"],
        "representativeness": [
            "CATEGORIES",
            "VARIABLES",
            "census_margins",
            "compare_margins",
            "quotas",
            "raking_weights",
            "sample_size",
            "survey_quotas",
        ],
        "schema": [
            "AGE_BANDS",
            "CHANGE_REASONS",
            "CHANGE_REASON_SYNONYMS",
            "CHANGE_TOPICS",
            "CHANGE_TOPIC_WORDS",
            "CSP_LABELS",
            "CSP_SYNONYMS",
            "DIFFERENTIATING_USAGES",
            "GENDERS",
            "GENDER_SYNONYMS",
            "LEVEL_LABELS",
            "LEVEL_SYNONYMS",
            "LOCATION_COLUMNS",
            "LOCATION_COLUMN_SYNONYMS",
            "MDV_COLUMN_SYNONYMS",
            "MDV_EASE",
            "MDV_SATISFACTION",
            "NEAR_KGCO2E",
            "NGC_CATEGORIES",
            "NGC_COLUMNS",
            "NGC_COLUMN_SYNONYMS",
            "NGC_COLUMN_TITLES",
            "NGC_ID_SYNONYMS",
            "NGC_SUBCATEGORIES",
            "QUESTIONS",
            "RESPONDENT_COLUMN_SYNONYMS",
            "TIME_BANDS",
            "TIME_BAND_LABELS",
            "TIME_BAND_SYNONYMS",
            "TRAVEL_MODES",
            "TRAVEL_MODE_LABELS",
            "TRAVEL_MODE_SYNONYMS",
            "TRIP_PURPOSES",
            "TRIP_PURPOSE_WORDS",
            "USAGES",
            "USAGE_COLUMN_KEYWORDS",
            "USAGE_COLUMN_SYNONYMS",
            "USAGE_LABELS",
            "WILLINGNESS",
            "WILLINGNESS_LABELS",
            "WILLINGNESS_SYNONYMS",
            "YES_NO",
            "YES_NO_LABELS",
            "YES_NO_SYNONYMS",
            "normalise_label",
        ],
        "su": ["read_su"],
        "synthetic": [
            "CarUseModel",
            "DEFAULT_MARGINS",
            "ENTD_MODE_SHARES",
            "SYNTHETIC_PREFIX",
            "URBAN_CATEGORIES",
            "entd_main_modes",
            "entd_mode_shares",
            "synthesize_answers",
        ],
        "tables": ["LIMITS", "ReadLimits"],
    },
)

if TYPE_CHECKING:
    from qet_geo.surveys.answers import REPORT_COLUMNS, STATUSES, SurveyRead
    from qet_geo.surveys.geocode import (
        ABBREVIATIONS,
        DEFAULT_BUILDING_DISTANCE_M,
        DEFAULT_MIN_SCORE,
        MATCH_TYPES,
        geocode_addresses,
        locate_homes,
        normalise_street,
        parse_address,
    )
    from qet_geo.surveys.located import read_located_answers
    from qet_geo.surveys.mdv import read_mdv
    from qet_geo.surveys.ngc import read_ngc
    from qet_geo.surveys.representativeness import (
        CATEGORIES,
        VARIABLES,
        census_margins,
        compare_margins,
        quotas,
        raking_weights,
        sample_size,
        survey_quotas,
    )
    from qet_geo.surveys.schema import (
        AGE_BANDS,
        CHANGE_REASON_SYNONYMS,
        CHANGE_REASONS,
        CHANGE_TOPIC_WORDS,
        CHANGE_TOPICS,
        CSP_LABELS,
        CSP_SYNONYMS,
        DIFFERENTIATING_USAGES,
        GENDER_SYNONYMS,
        GENDERS,
        LEVEL_LABELS,
        LEVEL_SYNONYMS,
        LOCATION_COLUMN_SYNONYMS,
        LOCATION_COLUMNS,
        MDV_COLUMN_SYNONYMS,
        MDV_EASE,
        MDV_SATISFACTION,
        NEAR_KGCO2E,
        NGC_CATEGORIES,
        NGC_COLUMN_SYNONYMS,
        NGC_COLUMN_TITLES,
        NGC_COLUMNS,
        NGC_ID_SYNONYMS,
        NGC_SUBCATEGORIES,
        QUESTIONS,
        RESPONDENT_COLUMN_SYNONYMS,
        TIME_BAND_LABELS,
        TIME_BAND_SYNONYMS,
        TIME_BANDS,
        TRAVEL_MODE_LABELS,
        TRAVEL_MODE_SYNONYMS,
        TRAVEL_MODES,
        TRIP_PURPOSE_WORDS,
        TRIP_PURPOSES,
        USAGE_COLUMN_KEYWORDS,
        USAGE_COLUMN_SYNONYMS,
        USAGE_LABELS,
        USAGES,
        WILLINGNESS,
        WILLINGNESS_LABELS,
        WILLINGNESS_SYNONYMS,
        YES_NO,
        YES_NO_LABELS,
        YES_NO_SYNONYMS,
        normalise_label,
    )
    from qet_geo.surveys.su import read_su
    from qet_geo.surveys.synthetic import (
        DEFAULT_MARGINS,
        ENTD_MODE_SHARES,
        SYNTHETIC_PREFIX,
        URBAN_CATEGORIES,
        CarUseModel,
        entd_main_modes,
        entd_mode_shares,
        synthesize_answers,
    )
    from qet_geo.surveys.tables import LIMITS, ReadLimits
