"""Measured against perceived access, on labelled-synthetic MdV answers on Lorient's real buildings.

No real MdV/EdV answers tied to homes are at hand (they are personal data), and
:mod:`qet_geo.surveys.synthetic` makes SU rows only, so the answers here are made by
:func:`qet_geo.surveys.synthetic_others.synthetic_mdv`, labelled synthetic (``SYN-`` ids, a
``synthetic`` column), by this rule:

1. **A planted food desert.** The real Lorient layers lose their food shops north of
   :data:`DESERT_SOUTH_M` (Lambert-93 northing; two shops of the south are kept): the homes of the
   north are then more than 15 minutes on foot from any food shop (272 of 1042 homes), as the
   access pipeline measures it. Nothing else of the extract changes.
2. **Background answers** (:data:`N_BACKGROUND`): homes drawn uniformly among the residential
   buildings; every yes/no question answered yes / no / je ne sais pas with probabilities 0.5,
   0.35, 0.15; food and leisure trips on foot, by bike or by car (0.5, 0.2, 0.3) with a time band
   drawn uniformly; work by car, transit or on foot; reasons drawn among access and other reasons.
   They say nothing on purpose: the published shares mix every category.
3. **Planted "l'offre manque"** (:data:`N_PLANTED` answers): homes more than 15 minutes from any
   food shop answer that food shopping is hard: on foot, 30 to 45 minutes.
4. **Planted "existe mais pas connue"** (:data:`N_PLANTED` answers): homes within 3 minutes of a
   food shop answer the same.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from qet_geo.analysis.perceived import (
    ACCESS_THRESHOLDS,
    CATEGORIES,
    CATEGORY_LABELS,
    COLUMN_LABELS,
    POOR_MIN,
    QUESTIONS,
    PerceivedAccess,
    access_questions,
    compare_access,
    perceived_access,
    read_located_mdv,
)
from qet_geo.constraints.access import neighbourhood_access
from qet_geo.constraints.indicators import INDICATORS, nearest_min
from qet_geo.i18n import _english
from qet_geo.inputs.territory import territory_from_file
from qet_geo.layers import NeighbourhoodLayers, build_layers
from qet_geo.privacy import MIN_RESPONDENTS, is_protected
from qet_geo.surveys.mdv import read_mdv
from qet_geo.surveys.synthetic_others import synthetic_mdv as library_synthetic_mdv
from tests.conftest import shared

TERRITORY = Path(__file__).resolve().parents[2] / "data" / "osm" / "lorient_centre.geojson"
DESERT_SOUTH_M = 6757500.0
N_BACKGROUND = 360
N_PLANTED = 30
FOOD = nearest_min("food_shop")


# --------------------------------------------------------------------------------------------------
# the synthetic answers


def synthetic_mdv(access: pd.DataFrame) -> pd.DataFrame:
    """The library's labelled-synthetic MdV rows, by the rule of the module docstring."""
    return library_synthetic_mdv(access, n=N_BACKGROUND, n_planted=N_PLANTED, seed=3)


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.drop(columns=["plant"]).to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def layers() -> NeighbourhoodLayers:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extract is cut at its border
        return build_layers(
            shared("osm", "lorient_centre.osm.pbf"), territory=territory_from_file(TERRITORY)
        )


@pytest.fixture(scope="module")
def desert(layers: NeighbourhoodLayers) -> NeighbourhoodLayers:
    amenities = layers.layers["amenities"]
    north = (amenities["category"] == "food_shop") & (amenities.geometry.y > DESERT_SOUTH_M)
    assert north.any() and (amenities["category"] == "food_shop")[~north].any()
    return replace(layers, layers={**layers.layers, "amenities": amenities[~north]})


@pytest.fixture(scope="module")
def access(desert: NeighbourhoodLayers) -> dict[str, gpd.GeoDataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few homes off the street network
        return {m: neighbourhood_access(desert, mode=m) for m in ("walk", "bike")}


@pytest.fixture(scope="module")
def mdv_file(tmp_path_factory: pytest.TempPathFactory, access) -> tuple[Path, pd.DataFrame]:
    frame = synthetic_mdv(access["walk"])
    return _csv(frame, tmp_path_factory.mktemp("mdv") / "mdv_synthetic.csv"), frame


@pytest.fixture(scope="module")
def answers(mdv_file, desert: NeighbourhoodLayers) -> pd.DataFrame:
    return read_located_mdv(mdv_file[0], desert)


@pytest.fixture(scope="module")
def compared(answers: pd.DataFrame, access) -> pd.DataFrame:
    with pytest.warns(match="rail_station_min"):  # no station in the extract: not compared
        return compare_access(answers, access["walk"], bike_access=access["bike"])


@pytest.fixture(scope="module")
def published(answers: pd.DataFrame, access) -> PerceivedAccess:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return perceived_access(answers, access["walk"], bike_access=access["bike"])


# --------------------------------------------------------------------------------------------------
# the question → indicator table


def test_the_table_covers_every_mdv_access_question_of_the_schema() -> None:
    assert set(access_questions()) == set(QUESTIONS)
    for q in QUESTIONS.values():
        assert q.indicators, q.key
        for name in q.indicators:
            assert name in INDICATORS, name  # the registry's own names
            assert name in ACCESS_THRESHOLDS, name
        # several indicators share one rule (the nearest of them counts)
        assert len({ACCESS_THRESHOLDS[i] for i in q.indicators}) == 1


def test_every_category_and_column_has_a_french_label_and_an_english_one() -> None:
    assert set(CATEGORY_LABELS) == set(CATEGORIES)
    english = _english()
    for label in (*CATEGORY_LABELS.values(), *COLUMN_LABELS.values()):
        assert label.render("fr") and english.get(label.template), label.template
    assert CATEGORY_LABELS["offer_missing"].render("fr") == "L'offre manque"
    assert (
        CATEGORY_LABELS["offer_unknown_or_unused"].render("fr")
        == "L'offre existe mais n'est pas connue ou pas utilisée"
    )
    for q in QUESTIONS.values():
        assert q.label.render("en") != q.label.render("fr")
    for rule in ACCESS_THRESHOLDS.values():
        assert rule.why.render("en") != rule.why.render("fr")


# --------------------------------------------------------------------------------------------------
# the planted cases


def test_the_synthetic_answers_are_read_located_and_labelled(answers, mdv_file) -> None:
    _, frame = mdv_file
    assert answers.attrs["synthetic"] and answers["synthetic"].all()
    assert len(answers) == len(frame)
    assert answers["building_key"].notna().all() and answers["cell_id"].notna().all()
    assert not {"lon", "lat", "x", "y", "address"} & set(answers.columns)


def test_planted_cases_fall_into_the_method_two_kinds(compared, mdv_file) -> None:
    _, frame = mdv_file
    plant = frame.set_index("respondent_id")["plant"]
    food = compared[compared["question"] == "food_time_band"].set_index("respondent_id")
    missing = food.loc[plant[plant == "missing"].index]
    unknown = food.loc[plant[plant == "unknown"].index]
    assert (missing["category"] == "offer_missing").all()
    assert (missing["walk_value"].isna() | (missing["walk_value"] > POOR_MIN)).all()
    assert (unknown["category"] == "offer_unknown_or_unused").all()
    assert (unknown["walk_value"] <= 3.0).all()
    assert (food.loc[plant[plant != "background"].index, "perceived"] == "poor").all()


def test_a_car_trip_next_to_a_shop_is_the_offer_not_used(compared) -> None:
    food = compared[compared["question"] == "food_time_band"]
    by_car = food[food["answer"].str.startswith("car")]
    assert len(by_car) and (by_car["perceived"] == "unused").all()
    good = by_car[by_car["measured"] == "good"]
    assert len(good) and (good["category"] == "offer_unknown_or_unused").all()


def test_bike_trips_are_judged_by_bike_minutes(compared) -> None:
    food = compared[compared["question"] == "food_time_band"]
    bike = food[food["answer"].str.startswith("bike")]
    assert len(bike) and (bike["judged_by"] == "bike").all()
    assert (bike["bike_value"] < bike["walk_value"]).all()
    assert (food[~food["answer"].str.startswith("bike")]["judged_by"] == "walk").all()


def test_the_categories_follow_the_rule(compared) -> None:
    expected = {
        ("good", "good"): "agree_good",
        ("good", "poor"): "offer_unknown_or_unused",
        ("good", "unknown"): "offer_unknown_or_unused",
        ("good", "unused"): "offer_unknown_or_unused",
        ("poor", "poor"): "offer_missing",
        ("poor", "unknown"): "offer_missing",
        ("poor", "good"): "perceived_better",
        ("middle", "poor"): "undecided",
        ("good", "middle"): "undecided",
    }
    for (measured, perceived), category in expected.items():
        rows = compared[(compared["measured"] == measured) & (compared["perceived"] == perceived)]
        assert (rows["category"] == category).all(), (measured, perceived)
    assert set(compared["category"]) <= set(CATEGORIES)


def test_an_indicator_measured_nowhere_is_not_compared(answers, access) -> None:
    # no railway station within the 5 km search of any Lorient home in this extract
    assert access["walk"][nearest_min("rail_station")].isna().all()
    with pytest.warns(match="easy_leaving_by_transit"):
        out = compare_access(answers, access["walk"], questions=["easy_leaving_by_transit"])
    assert out.empty


# --------------------------------------------------------------------------------------------------
# what is published


def test_published_figures_on_the_planted_data(published: PerceivedAccess) -> None:
    hood = published.neighbourhood
    assert published.synthetic
    assert published.n_answers == N_BACKGROUND + 2 * N_PLANTED
    food = hood.loc["food_time_band"]
    assert food["n_respondents"] >= MIN_RESPONDENTS
    shares = food[[f"share_{c}" for c in CATEGORIES]]
    assert math.isclose(float(shares.to_numpy(dtype=float).sum()), 1.0, abs_tol=1e-3)
    # the two planted groups of 30 weigh in the food question
    assert food["share_offer_missing"] >= N_PLANTED / food["n_respondents"] - 1e-4
    assert food["share_offer_unknown_or_unused"] >= N_PLANTED / food["n_respondents"] - 1e-4
    zones = published.zones.xs("food_time_band", level="question")
    north = zones.geometry.centroid.y > DESERT_SOUTH_M + 400
    # the desert shows on the map: more "l'offre manque" in the north than in the south
    assert (
        zones.loc[north, "share_offer_missing"].mean()
        > zones.loc[~north, "share_offer_missing"].mean()
    )


def test_no_published_figure_comes_from_fewer_than_11_answers(published) -> None:
    zones, hood = published.zones, published.neighbourhood
    assert is_protected(zones) and is_protected(hood)
    assert len(zones) and (zones["n_respondents"] >= MIN_RESPONDENTS).all()
    given = hood["n_respondents"].dropna()
    assert (given >= MIN_RESPONDENTS).all()
    # rule 3: no zone where every answer is in one category (it would reveal each answer)
    shares = zones[[f"share_{c}" for c in CATEGORIES]]
    assert (shares < 1.0).all().all()
    # zones of one question never overlap
    for _question, group in zones.groupby(level="question"):
        geoms = group.geometry.to_numpy()
        for i in range(len(geoms)):
            for j in range(i + 1, len(geoms)):
                assert geoms[i].intersection(geoms[j]).area < 1.0


def test_an_attacker_cannot_difference_the_neighbourhood_and_its_zones(published) -> None:
    zones, hood = published.zones, published.neighbourhood
    for question, row in hood.iterrows():
        if pd.isna(row["n_respondents"]):
            assert question not in zones.index.get_level_values("question")
            continue
        part = zones.xs(question, level="question")
        # the zones hold every answer of the neighbourhood row: no remainder to subtract
        assert int(part["n_respondents"].sum()) == int(row["n_respondents"])
        for c in CATEGORIES:
            in_zones = float((part[f"share_{c}"] * part["n_respondents"]).sum())
            in_hood = float(row[f"share_{c}"] * row["n_respondents"])
            assert abs(in_zones - in_hood) < 0.05, (question, c)


def test_a_small_survey_publishes_no_figure(answers, access) -> None:
    small = answers.iloc[:10]
    with pytest.warns(match="too few"):
        out = perceived_access(small, access["walk"])
    assert out.n_answers is None and out.n_located is None
    assert out.zones.empty
    assert out.neighbourhood["n_respondents"].isna().all()
    assert out.neighbourhood.drop(columns="n_respondents").isna().all().all()


def test_one_uniform_question_is_withheld_whole(answers, access) -> None:
    # everyone answers "non" in a place where every home is near a local shop: 100 % one category
    uniform = answers.assign(satisfied_local_shops="no")
    with pytest.warns(match="satisfied_local_shops"):
        out = perceived_access(uniform, access["walk"])
    assert out.neighbourhood["n_respondents"].isna()["satisfied_local_shops"]
    assert "satisfied_local_shops" not in out.zones.index.get_level_values("question")


def test_the_published_tables_as_json_and_csv(published) -> None:
    data = json.loads(json.dumps(published.to_dict(), allow_nan=False))
    assert data["synthetic"] is True and data["min_respondents"] == MIN_RESPONDENTS
    assert {z["question"] for z in data["zones"]} <= set(QUESTIONS)
    assert all(z["n_respondents"] >= MIN_RESPONDENTS for z in data["zones"])
    assert data["zones"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert data["labels"]["offer_missing"] == "L'offre manque"
    table = published.table()
    assert set(table["scale"]) == {"quartier", "zone"}
    assert not {"respondent_id", "building_key", "cell_id", "answer"} & set(table.columns)


# --------------------------------------------------------------------------------------------------
# the command


@pytest.fixture(scope="module")
def cli_answers(mdv_file) -> Path:
    # the same labelled-synthetic file; the command reads the whole extract (no planted desert)
    return mdv_file[0]


def _run(args: list[str]) -> str:
    from qet_geo.cli.main import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_command_end_to_end_on_lorient(tmp_path: Path, cli_answers: Path, lang: str) -> None:
    out = tmp_path / "perceived.json"
    output = _run(
        [
            "--lang",
            lang,
            "perceived",
            str(cli_answers),
            str(shared("osm", "lorient_centre.osm.pbf")),
            "--territory",
            str(TERRITORY),
            "--out",
            str(out),
        ]
    )
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["synthetic"] is True and data["lang"] == lang
    assert all(z["n_respondents"] >= MIN_RESPONDENTS for z in data["zones"])
    if lang == "fr":
        assert "Accès mesuré et accès perçu" in output and "synthétiques" in output
        assert "L'offre manque" in output
        assert data["labels"]["offer_missing"] == "L'offre manque"
    else:
        assert "Measured and perceived access" in output and "synthetic" in output
        assert "The offer is missing" in output
        assert data["labels"]["offer_missing"] == "The offer is missing"
    csv = tmp_path / "perceived.csv"
    _run(
        [
            "--lang",
            lang,
            "perceived",
            str(cli_answers),
            str(shared("osm", "lorient_centre.osm.pbf")),
            "--territory",
            str(TERRITORY),
            "--out",
            str(csv),
        ]
    )
    table = pd.read_csv(csv)
    header = COLUMN_LABELS["n_respondents"].render(lang)
    assert header in table.columns
    assert (table[header].dropna() >= MIN_RESPONDENTS).all()


def test_the_command_refuses_a_bad_output(tmp_path: Path, cli_answers: Path) -> None:
    from qet_geo.cli.main import app

    result = CliRunner().invoke(
        app,
        [
            "perceived",
            str(cli_answers),
            str(shared("osm", "lorient_centre.osm.pbf")),
            "--out",
            str(tmp_path / "x.txt"),
        ],
    )
    assert result.exit_code != 0 and ".json" in result.output and "Traceback" not in result.output


def test_the_reader_keeps_every_access_question(mdv_file) -> None:
    with pytest.warns(match="synthetic"):  # the label is not an answer
        read = read_mdv(mdv_file[0])
    for key in QUESTIONS:
        assert key in read.answers.columns, key
