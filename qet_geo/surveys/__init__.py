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

__getattr__, __dir__ = attach(
    __name__,
    [
        "answers",
        "forms",
        "geocode",
        "located",
        "mdv",
        "ngc",
        "representativeness",
        "schema",
        "su",
        "synthetic",
        "synthetic_others",
        "tables",
    ],
)

if TYPE_CHECKING:
    from qet_geo.surveys.answers import *
    from qet_geo.surveys.forms import *
    from qet_geo.surveys.geocode import *
    from qet_geo.surveys.located import *
    from qet_geo.surveys.mdv import *
    from qet_geo.surveys.ngc import *
    from qet_geo.surveys.representativeness import *
    from qet_geo.surveys.schema import *
    from qet_geo.surveys.su import *
    from qet_geo.surveys.synthetic import *
    from qet_geo.surveys.synthetic_others import *
    from qet_geo.surveys.tables import *
