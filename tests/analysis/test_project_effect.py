"""The expected effect of a project, against hand computations."""

from __future__ import annotations

from typing import Any

import pytest

from qet_geo.analysis.project_effect import PERSONS_PER_HOME, expected_effect, significant

FIGURES: dict[str, Any] = {
    "n_respondents": 50,
    "footprints": {"transportation_mode": 2400.0, "heat_source": 1800.0, "total": 9000.0},
    "profile_shares": {"0": 0.25, "1": 0.35, "2": 0.4},  # "Profil 1" is key "0"
    "links": {
        "status": "ok",
        "fr": {"votes": [{"usage": "transportation_mode", "built": 120.0, "potential": 900.0}]},
        "en": {"votes": [{"usage": "transportation_mode", "built": 120.0, "potential": 900.0}]},
    },
    "access": {"homes": 1000},
}


def test_significant() -> None:
    assert significant(12345.0) == 12000
    assert significant(0.01234) == 0.012
    assert significant(0.0) == 0.0
    assert significant(987.0, 1) == 1000


def test_from_profiles_and_homes() -> None:
    effect = expected_effect(FIGURES, usage="transportation_mode", profiles=[1, 3])
    # 120 kg per person × (0.25 + 0.4) × 1000 homes × 2.2 persons = 171 600 → 170 000
    assert PERSONS_PER_HOME == 2.2
    assert effect["status"] == "ok"
    assert effect["value"] == 170_000
    assert effect["low"] is None and effect["high"] is None
    assert effect["inputs"]["share"] == pytest.approx(0.65)
    assert effect["inputs"]["population"] == pytest.approx(2200)
    fr, en = effect["assumptions"]["fr"], effect["assumptions"]["en"]
    assert len(fr) == len(en) >= 4
    assert any("Empreinte moyenne" in line and "400" in line for line in fr)
    assert any("Pas d'intervalle" in line for line in fr)
    assert fr != en


def test_team_share_and_population_limit_the_precision() -> None:
    effect = expected_effect(FIGURES, usage="transportation_mode", reach_share=0.3, population=1500)
    # 120 × 0.3 × 1500 = 54 000; the share typed as 30 % carries one figure → 50 000
    assert effect["value"] == 50_000
    one = expected_effect(FIGURES, usage="transportation_mode", reach_share=0.3, population=2000)
    # 120 × 0.3 × 2000 = 72 000, the population typed with one figure → 70 000
    assert one["value"] == 70_000


def test_saving_never_more_than_the_footprint() -> None:
    figures = {**FIGURES, "footprints": {"transportation_mode": 50.0}}
    effect = expected_effect(figures, usage="transportation_mode", reach_share=1.0, population=100)
    assert effect["value"] == 5000  # 50 × 1 × 100


@pytest.mark.parametrize(
    ("figures", "kwargs", "words"),
    [
        (None, {"usage": "transportation_mode", "profiles": [1]}, "pas encore de résultats"),
        (FIGURES, {"usage": "meat_frequency", "profiles": [1]}, "pas de chiffre"),
        (FIGURES, {"usage": "heat_source", "profiles": [1]}, "pas de marge"),
        (FIGURES, {"usage": "transportation_mode"}, "profils"),
        (FIGURES, {"usage": "transportation_mode", "profiles": [9]}, "profil 9"),
        (FIGURES, {"usage": "transportation_mode", "reach_share": 1.5}, "entre 0 et 100"),
        (FIGURES, {"usage": None, "profiles": [1]}, "usage"),
        ({**FIGURES, "access": {}}, {"usage": "transportation_mode", "profiles": [1]}, "logements"),
        (
            {**FIGURES, "links": {"status": "no_access"}},
            {"usage": "transportation_mode", "profiles": [1]},
            "pas de marge",
        ),
    ],
)
def test_withheld_with_a_reason(
    figures: dict[str, Any] | None, kwargs: dict[str, Any], words: str
) -> None:
    effect = expected_effect(figures, **kwargs)
    assert effect["status"] == "withheld"
    assert effect["value"] is None
    assert words in effect["reason"]["fr"]
    assert effect["reason"]["en"] and effect["reason"]["en"] != effect["reason"]["fr"]


def test_zero_margin_is_withheld_not_zero() -> None:
    figures = {
        **FIGURES,
        "links": {
            "status": "ok",
            "fr": {"votes": [{"usage": "transportation_mode", "built": 0.0}]},
        },
    }
    effect = expected_effect(figures, usage="transportation_mode", profiles=[1])
    assert effect["status"] == "withheld"


def test_documented_factor() -> None:
    effect = expected_effect(
        None, method="factor", factor=0.25, units=12000, source="ADEME Base Empreinte <b>x</b>"
    )
    # 0.25 × 12 000 = 3 000
    assert effect["status"] == "ok" and effect["value"] == 3000
    assert "ADEME Base Empreinte <b>x</b>" in effect["assumptions"]["fr"][0]
    rough = expected_effect(None, method="factor", factor=3, units=1234, source="s")
    assert rough["value"] == 4000  # 3702 with one significant figure
    assert expected_effect(None, method="factor", factor=3, units=0, source="s")["status"] == (
        "withheld"
    )
    missing = expected_effect(None, method="factor", factor=3, units=4, source=" ")
    assert "source" in missing["reason"]["fr"]
