"""The embedded reference profiles are NEAR's survey 0."""

from __future__ import annotations

import warnings

import pandas as pd

from qet_geo.analysis.reference import SURVEY0_PROFILES, reference_profiles
from qet_geo.errors import QetGeoWarning
from qet_geo.surveys.su import read_su
from tests.conftest import shared


def test_embedded_profiles_are_survey_0() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)  # the one partial row is reported
        survey0 = read_su(shared("surveys", "near_su", "survey_0.tsv")).answers
    embedded = reference_profiles()
    recomputed = reference_profiles(survey0)
    assert len(embedded) == 313
    pd.testing.assert_frame_equal(embedded, recomputed)
    assert SURVEY0_PROFILES.count(" ") > 100
