"""Profiles meet constraints, on labelled-synthetic answers on the real buildings of Lorient.

The synthetic generator (:mod:`qet_geo.surveys.synthetic`) plants a known signal: car use rises with the
distance to the nearest transit stop and with the walk to the nearest food shop. The models must
find it, find nothing once the indicators are shuffled between homes, and every output must be a
protected aggregate.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from qet_geo.analysis.constraint_profiles import profile_constraints
from qet_geo.analysis.homes import building_indicators, join_constraints
from qet_geo.analysis.links import LinkReport, link_report
from qet_geo.analysis.margins import margins_of_manoeuvre
from qet_geo.analysis.models import ConstraintModels, constraint_models
from qet_geo.analysis.profiles import UsageProfiles
from qet_geo.analysis.scenarios import DEFAULT_SCENARIOS, Change, Scenario
from qet_geo.cli.links import links
from qet_geo.constraints.access import neighbourhood_access
from qet_geo.constraints.indicators import USAGE_CONSTRAINTS, indicator_unit
from qet_geo.errors import QetGeoWarning, ValidationError
from qet_geo.i18n import msg
from qet_geo.inputs.territory import territory_from_file
from qet_geo.layers import NeighbourhoodLayers, build_layers
from qet_geo.privacy import MIN_RESPONDENTS, is_protected, require_protected
from qet_geo.surveys.located import read_located_answers
from qet_geo.surveys.synthetic import CarUseModel, synthesize_answers
from tests.conftest import shared

DEMO_TERRITORY = Path(__file__).resolve().parents[2] / "data" / "osm" / "lorient_centre.geojson"
NOOP = Scenario("noop", "transit_stop_m", "cap", 1e9, label=msg("Rien ne change"))
# the stop distance of frequent_transit alone: Lorient has no GTFS timetable, so frequent_transit
# itself (at least 6 departures an hour) is left out
STOPS_300M = Scenario(
    "stops_300m", "transit_stop_m", "cap", 300.0, label=msg("Un arrêt à moins de 300 m")
)


# --------------------------------------------------------------------------------------------------
# fixtures: the neighbourhood, its homes and 600 synthetic answers, computed once


@pytest.fixture(scope="module")
def layers() -> NeighbourhoodLayers:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extract is cut at its border
        return build_layers(
            shared("osm", "lorient_centre.osm.pbf"),
            territory=territory_from_file(DEMO_TERRITORY),
        )


@pytest.fixture(scope="module")
def access(layers: NeighbourhoodLayers) -> gpd.GeoDataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few homes off the street network
        table = neighbourhood_access(layers, mode="walk")
    return table.join(building_indicators(layers.layers["buildings"]))


@pytest.fixture(scope="module")
def answers(layers: NeighbourhoodLayers, access: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return synthesize_answers(layers, 600, seed=1, access=access)


@pytest.fixture(scope="module")
def models(answers: gpd.GeoDataFrame, access: gpd.GeoDataFrame) -> ConstraintModels:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)  # heating: too few fuel-oil answers
        return constraint_models(answers, access, n_bootstrap=200, random_state=0)


@pytest.fixture(scope="module")
def margins(answers: gpd.GeoDataFrame, access: gpd.GeoDataFrame) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        return margins_of_manoeuvre(
            answers, access, scenarios=[*DEFAULT_SCENARIOS, NOOP, STOPS_300M], n_bootstrap=200
        )


@pytest.fixture(scope="module")
def shuffled(access: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The same homes with their indicators dealt at random: no built constraint left."""
    columns = [
        c
        for c in access.columns
        if c not in ("weight", "geometry") and not pd.api.types.is_bool_dtype(access[c])
    ]
    out = access.copy()
    out[columns] = access[columns].sample(frac=1.0, random_state=101).to_numpy()
    return out


def _true_car_saving(answers: pd.DataFrame, access: pd.DataFrame, *, stop_cap: float) -> float:
    """The saving the generator itself implies (its documented nested logits, NEAR kgCO2e)."""
    model = CarUseModel()
    a = answers.attrs["intercepts"]["car_intercept"]
    c = answers.attrs["intercepts"]["transit_intercept"]
    shop = np.clip(access["food_shop_min"].fillna(30.0).to_numpy(float), 0.0, 30.0) / 10.0

    def expected(stop_m: np.ndarray) -> np.ndarray:
        x_stop = np.log(np.clip(stop_m, 50.0, 3000.0) / 400.0)
        p_car = 1.0 / (1.0 + np.exp(-(a + model.stop * x_stop + model.shop * shop)))
        p_transit = 1.0 / (1.0 + np.exp(-(c - model.transit_stop * x_stop)))
        return (1.0 - p_car) * p_transit * 300.0 + p_car * 2300.0

    stop = access["transit_stop_m"].fillna(3000.0).to_numpy(float)
    return float(np.mean(expected(stop) - expected(np.minimum(stop, stop_cap))))


# --------------------------------------------------------------------------------------------------
# 2. models: the planted signal, and nothing in a shuffled control


def test_model_finds_planted_transit_signal(models: ConstraintModels) -> None:
    effect = models.effects.loc[("transportation_mode", "transit_stop_m")]
    assert effect["status"] == "ok"
    assert effect["unit"] == 100.0 and effect["unit_en"] == "per 100 m"
    assert effect["odds_ratio"] > 1.2
    assert 1.0 < effect["odds_ratio_low"] < effect["odds_ratio"] < effect["odds_ratio_high"]
    score = models.scores.loc["transportation_mode"]
    assert score["status"] == "ok" and score["n_respondents"] == 600
    assert score["cv_auc"] > score["baseline_auc"] + 0.1
    assert score["cv_log_loss"] < score["baseline_log_loss"]
    assert score["log_loss_gain"] > 0


def test_effect_units_are_consistent(models: ConstraintModels) -> None:
    effect = models.effects.loc[("transportation_mode", "transit_stop_m")]
    # per unit = per standard deviation rescaled: log OR_unit = log OR_sd * unit / sd
    ratio = math.log(effect["odds_ratio"]) / math.log(effect["odds_ratio_per_sd"])
    assert ratio == pytest.approx(effect["unit"] / effect["sd"], rel=0.01)
    assert effect["odds_ratio_per_sd_low"] < effect["odds_ratio_per_sd"]
    assert indicator_unit("food_shop_min").label.render("en") == "per 5 min"
    assert indicator_unit("market_m").step == 100.0
    assert indicator_unit("footprint_m2").step == 100.0  # not taken for a distance


def test_shuffled_constraints_find_nothing(
    answers: gpd.GeoDataFrame, shuffled: gpd.GeoDataFrame
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        control = constraint_models(answers, shuffled, n_bootstrap=200, random_state=0)
    effect = control.effects.loc[("transportation_mode", "transit_stop_m")]
    assert effect["odds_ratio_low"] < 1.0 < effect["odds_ratio_high"]
    assert abs(control.scores.loc["transportation_mode", "cv_auc"] - 0.5) < 0.06


def test_unavailable_indicators_are_named_not_faked(models: ConstraintModels) -> None:
    effects = models.effects
    # no GTFS timetable and no DEM for Lorient: reported, with no figure
    for indicator in ("departures_per_hour_400m", "slope_pct"):
        row = effects.loc[("transportation_mode", indicator)]
        assert row["status"] == "indicator_missing"
        assert np.isnan(row["odds_ratio"])
    # no railway station within the 5 km search of any home: flying cannot be modelled
    assert models.scores.loc["air_travel_frequency", "status"] == "no_indicator"
    # fuel oil (heating level 3) is too rare in the reference answers for a model
    assert models.scores.loc["heat_source", "status"] == "too_few_answers"
    assert np.isnan(models.scores.loc["heat_source", "cv_auc"])
    assert set(models.scores.index) == set(USAGE_CONSTRAINTS)


def test_same_seed_same_figures(answers: gpd.GeoDataFrame, access: gpd.GeoDataFrame) -> None:
    only = {"transportation_mode": ("transit_stop_m", "food_shop_min")}
    first = constraint_models(answers, access, constraints=only, n_bootstrap=30, random_state=3)
    again = constraint_models(answers, access, constraints=only, n_bootstrap=30, random_state=3)
    pd.testing.assert_frame_equal(first.effects, again.effects)
    pd.testing.assert_frame_equal(first.scores, again.scores)


# --------------------------------------------------------------------------------------------------
# 3. margins of manoeuvre


def test_lifting_transit_constraint_saves_with_interval(
    margins: pd.DataFrame, access: gpd.GeoDataFrame
) -> None:
    row = margins.loc[("stops_300m", "all")]
    assert row["status"] == "ok"
    assert row["saving_kgco2e_per_person"] > 0
    assert 0 < row["saving_kgco2e_per_person_low"] < row["saving_kgco2e_per_person"]
    assert row["saving_kgco2e_per_person"] < row["saving_kgco2e_per_person_high"]
    assert row["ignored"] == ""
    far = access["transit_stop_m"].fillna(np.inf) > 300.0
    assert row["share_homes_changed"] == pytest.approx(far.mean(), abs=1e-3)
    # only mobility uses the distance to a stop
    assert list(margins.loc["stops_300m"].index) == ["transportation_mode", "all"]


def test_scenario_needing_a_timetable_is_left_out_without_one(margins: pd.DataFrame) -> None:
    # no GTFS feed for Lorient: departures per hour unknown, frequent stops cannot be estimated
    row = margins.loc[("frequent_transit", "all")]
    assert row["status"] == "left_out"
    assert list(margins.loc["frequent_transit"].index) == ["all"]
    figures = [c for c in margins.columns if c.startswith(("saving", "baseline"))]
    assert row[figures].isna().all()
    assert row["ignored"] == "departures_per_hour_400m"
    reasons = margins.attrs["left_out"]
    assert list(reasons) == ["frequent_transit"]
    assert "GTFS" in reasons["frequent_transit"].render("fr")
    assert "laissé de côté" in reasons["frequent_transit"].render("fr")
    assert "left out" in reasons["frequent_transit"].render("en")
    # the other scenarios are estimated as before
    assert margins.loc[("food_shop_5min", "all"), "status"] != "left_out"


def test_scenario_needing_a_timetable_is_estimated_with_departures(
    answers: gpd.GeoDataFrame, access: gpd.GeoDataFrame
) -> None:
    # departures per hour as a GTFS feed gives them (no feed covers the shared towns): 4 an hour
    # at every stop, so a home with stops within 400 m has 4, the others 0
    timed = access.assign(
        departures_per_hour_400m=np.where(access["transit_stops_400m"] > 0, 4.0, 0.0)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        with_gtfs = margins_of_manoeuvre(
            answers, timed, scenarios=[DEFAULT_SCENARIOS[0]], n_bootstrap=0
        )
    assert with_gtfs.attrs["left_out"] == {}
    row = with_gtfs.loc[("frequent_transit", "all")]
    assert row["status"] == "ok"
    assert np.isfinite(row["saving_kgco2e_per_person"])
    # the frequency is a constraint of the mobility model now, and every home's is raised to 6
    assert row["ignored"] == ""
    assert row["share_homes_changed"] == pytest.approx(1.0)
    with pytest.warns(QetGeoWarning, match="frequent_transit"):
        without = margins_of_manoeuvre(
            answers, access, scenarios=[DEFAULT_SCENARIOS[0]], n_bootstrap=0
        )
    assert without.loc[("frequent_transit", "all"), "status"] == "left_out"


def test_margin_interval_covers_generator_truth(
    margins: pd.DataFrame, answers: gpd.GeoDataFrame, access: gpd.GeoDataFrame
) -> None:
    truth = _true_car_saving(answers, access, stop_cap=300.0)
    row = margins.loc[("stops_300m", "transportation_mode")]
    assert truth > 0
    assert row["saving_kgco2e_per_person_low"] <= truth <= row["saving_kgco2e_per_person_high"]


def test_noop_scenario_saves_nothing(margins: pd.DataFrame) -> None:
    row = margins.loc[("noop", "all")]
    assert row["share_homes_changed"] == 0.0
    assert row["saving_kgco2e_per_person"] == pytest.approx(0.0, abs=1e-9)
    assert row["saving_kgco2e_per_person_low"] == pytest.approx(0.0, abs=1e-9)
    assert row["saving_kgco2e_per_person_high"] == pytest.approx(0.0, abs=1e-9)


def test_scenario_no_model_uses_is_not_applicable(margins: pd.DataFrame) -> None:
    row = margins.loc[("rail_station_15min", "all")]
    assert row["status"] == "not_applicable"
    assert np.isnan(row["saving_kgco2e_per_person"])
    assert row["ignored"] == "rail_station_min"


def test_margin_total_and_scale(answers: gpd.GeoDataFrame, access: gpd.GeoDataFrame) -> None:
    scenario = [STOPS_300M]
    near = margins_of_manoeuvre(answers, access, scenarios=scenario, n_bootstrap=0)
    ngc = margins_of_manoeuvre(
        answers, access, scenarios=scenario, scale="ngc", population=2000.0, n_bootstrap=0
    )
    # buildings weigh 1 each without a census: no population, no total
    assert np.isnan(near.loc[("stops_300m", "all"), "saving_tco2e"])
    row = ngc.loc[("stops_300m", "all")]
    assert row["saving_tco2e"] == pytest.approx(row["saving_kgco2e_per_person"] * 2.0)
    assert row["saving_kgco2e_per_person"] != pytest.approx(
        near.loc[("stops_300m", "all"), "saving_kgco2e_per_person"]
    )
    # without bootstrap: a figure, no interval
    assert np.isnan(row["saving_kgco2e_per_person_low"])


def test_scenarios_are_declarative() -> None:
    scenario = DEFAULT_SCENARIOS[0]
    assert scenario.changes[0] == Change("transit_stop_m", "cap", 300.0)
    assert scenario.indicators == ("transit_stop_m", "departures_per_hour_400m")
    values = np.array([100.0, 500.0])
    assert Change("x", "cap", 300.0).apply(values).tolist() == [100.0, 300.0]
    assert Change("x", "floor", 300.0).apply(values).tolist() == [300.0, 500.0]
    assert Change("x", "set", 1.0).apply(values).tolist() == [1.0, 1.0]
    assert Change("x", "scale", 0.5).apply(values).tolist() == [50.0, 250.0]
    assert scenario.label.render("en").startswith("Every home")
    with pytest.raises(ValidationError) as err:
        Scenario("bad", "transit_stop_m", "halve", 2.0, label=msg("x"))  # type: ignore[arg-type]
    assert "inconnue" in err.value.message_fr
    with pytest.raises(ValidationError):
        Change("transit_stop_m", "cap", float("nan"))
    # a scenario requires data among what it changes: frequent stops, their departures
    assert scenario.requires == ("departures_per_hour_400m",)
    with pytest.raises(ValidationError) as err:
        Scenario("bad", "transit_stop_m", "cap", 300.0, label=msg("x"), requires=("slope_pct",))
    assert "requires" in err.value.message_fr


# --------------------------------------------------------------------------------------------------
# 1. profiles and privacy


def test_profile_constraints_are_protected(
    answers: gpd.GeoDataFrame, access: gpd.GeoDataFrame
) -> None:
    model = UsageProfiles(random_state=0).fit(answers)
    table = profile_constraints(answers, access, model)
    require_protected(table, what="profile constraints")
    assert (table["n_respondents"] >= MIN_RESPONDENTS).all()
    assert table["n_respondents"].sum() == 600
    assert table.attrs["suppressed_profiles"] == []
    # quartiles in order, rounded to 10 m: never one home's exact distance
    q = table[["transit_stop_m_q25", "transit_stop_m_median", "transit_stop_m_q75"]]
    assert (q.diff(axis=1).iloc[:, 1:] >= 0).all(axis=None)
    assert (q.to_numpy() % 10 == 0).all()
    # no timetable: no member has a frequency, no figure
    assert (table["departures_per_hour_400m_n"] == 0).all()
    assert table["departures_per_hour_400m_mean"].isna().all()


@pytest.mark.filterwarnings("ignore:some zones could not be published")
def test_small_profiles_are_merged_or_suppressed_and_named(
    answers: gpd.GeoDataFrame, access: gpd.GeoDataFrame
) -> None:
    labels = pd.Series("big", index=answers.index, dtype="string")
    labels.iloc[:5] = "tiny"
    labels.iloc[5:300] = "mid"
    with pytest.warns(QetGeoWarning, match="profiles mid, tiny were merged"):
        merged = profile_constraints(answers, access, labels)
    # without centres a small profile joins the smallest other one, and says so
    assert sorted(merged.index) == ["big", "mid+tiny"]
    assert merged.loc["mid+tiny", "n_respondents"] == 295 + 5
    assert bool(merged.loc["mid+tiny", "merged"]) and is_protected(merged)
    assert merged.attrs["merged_profiles"] == ["mid", "tiny"]
    assert merged.attrs["suppressed_profiles"] == []
    # no adjacency at all: the small profile is suppressed, and named
    with pytest.warns(QetGeoWarning, match="tiny were suppressed"):
        alone = profile_constraints(answers, access, labels, neighbours={})
    assert sorted(alone.index) == ["big", "mid"]
    assert alone.attrs["suppressed_profiles"] == ["tiny"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", QetGeoWarning)
        report = link_report(answers.iloc[:100], access, profiles=labels.iloc[:100], n_bootstrap=0)
    assert any("tiny were merged" in str(w.message) for w in caught)
    groups = report.to_dict()["profiles"]["groups"]
    assert [(g["group"], g["n"]) for g in groups] == [("mid+tiny", 100)]


def test_every_output_is_protected(models: ConstraintModels, margins: pd.DataFrame) -> None:
    for table in (models.effects, models.scores, margins):
        require_protected(table, what="a links table")
        counts = table["n_respondents"].dropna()
        assert (counts >= MIN_RESPONDENTS).all()


def test_link_report_tables_are_what_its_json_publishes(
    answers: gpd.GeoDataFrame, access: gpd.GeoDataFrame
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        report = link_report(
            answers, access, profiles=UsageProfiles(random_state=0).fit(answers), n_bootstrap=20
        )
    assert isinstance(report, LinkReport)
    data = report.to_dict()
    json.dumps(data, allow_nan=False)
    assert list(data) == [
        "synthetic",
        "n_answers",
        "n_located",
        "scale",
        "notes",
        "profiles",
        "neighbourhood",
        "models",
        "margins",
    ]
    assert report.synthetic is True and report.n_located == data["n_located"] == 600
    # the typed tables hold the published figures: rounded, in the report's language
    effect = report.effects.loc[("transportation_mode", "transit_stop_m")]
    model = next(m for m in data["models"] if m["usage"] == "transportation_mode")
    published = next(e for e in model["effects"] if e["indicator"] == "transit_stop_m")
    assert published["odds_ratio"] == effect["odds_ratio"] == round(effect["odds_ratio"], 4)
    assert published["unit"] == effect["unit"] == "par 100 m"
    assert model["cv"]["auc"] == report.models.loc["transportation_mode", "cv_auc"]
    assert list(report.models.index) == [m["usage"] for m in data["models"]]
    total = report.margins.loc[("food_shop_5min", "all")]
    item = next(g for g in data["margins"] if g["scenario"] == "food_shop_5min")
    assert item["saving_kgco2e_per_person"] == total["saving_kgco2e_per_person"]
    assert total["saving_kgco2e_per_person"] == round(total["saving_kgco2e_per_person"], 2)
    assert item["ignored_indicators"] == list(total["ignored_indicators"])
    assert [u["usage"] for u in item["usages"]] == list(
        report.margins.loc["food_shop_5min"].index.drop("all")
    )
    # no timetable: frequent stops left out, and the JSON says so
    left = next(g for g in data["margins"] if g["scenario"] == "frequent_transit")
    assert left["status"] == "left_out" and left["saving_kgco2e_per_person"] is None
    assert left["ignored_indicators"] == ["departures_per_hour_400m"]
    # ... and why, in the report's language (the margins' reason survives publication)
    assert "faute de données" in left["reason"] and "GTFS" in left["reason"]
    assert "reason" not in item
    assert [g["group"] for g in data["profiles"]["groups"]] == list(report.profiles.index)
    assert (report.profiles["n"].dropna() >= MIN_RESPONDENTS).all()
    assert (
        report.neighbourhood.loc["transit_stop_m", "homes"]
        == (data["neighbourhood"]["indicators"]["transit_stop_m"]["homes"])
    )


# --------------------------------------------------------------------------------------------------
# few answers: warnings and NaN, not crashes or fake precision


def _published_counts(node: object) -> list[int]:
    """Every respondent count of a report: values of the keys "n" and "n_*" (not n_splits...)."""
    found: list[int] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("n", "n_answers", "n_located") and isinstance(value, int):
                found.append(value)
            found.extend(_published_counts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_published_counts(item))
    return found


@pytest.mark.parametrize("n", [8, 30])
def test_small_samples_warn_and_give_nan(
    n: int, layers: NeighbourhoodLayers, access: gpd.GeoDataFrame
) -> None:
    few = synthesize_answers(layers, n, seed=2, access=access)
    with pytest.warns(QetGeoWarning, match="Too few answers"):
        small = constraint_models(few, access, n_bootstrap=50)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        margin = margins_of_manoeuvre(few, access, n_bootstrap=50)
        report = link_report(few, access, profiles=UsageProfiles(min_size=0).fit(few)).to_dict()
    assert any(isinstance(w.message, QetGeoWarning) for w in caught)
    for table in (small.effects, small.scores, margin):
        assert is_protected(table)
        assert table["n_respondents"].isna().all() == (n < MIN_RESPONDENTS)
    blocked = small.scores["status"] == "too_few_answers"
    assert blocked.any()
    assert small.scores.loc[blocked, "cv_auc"].isna().all()
    assert small.effects.loc[list(small.scores.index[blocked]), "odds_ratio"].isna().all()
    no_model = margin["status"].isin(["too_few_answers", "not_applicable"])
    assert no_model.any()
    assert margin.loc[no_model, "saving_kgco2e_per_person"].isna().all()
    if n < MIN_RESPONDENTS:
        assert margin["saving_kgco2e_per_person"].isna().all()
        assert report["n_located"] is None
    json.dumps(report, allow_nan=False)  # NaN became None
    assert all(c == 0 or c >= MIN_RESPONDENTS for c in _published_counts(report))


# --------------------------------------------------------------------------------------------------
# joining and reading


def test_answers_located_by_cell_need_cell_access(
    answers: gpd.GeoDataFrame, access: gpd.GeoDataFrame
) -> None:
    by_cell = answers.iloc[:50].drop(columns=["building_key"])
    with pytest.warns(QetGeoWarning, match="cell_access"):
        lost = join_constraints(by_cell, access)
    assert lost["located_by"].isna().all()
    # a cell table: the mean of the homes of each 200 m cell
    cell_of = answers.drop_duplicates("building_key").set_index("building_key")["cell_id"]
    homes = access.loc[access.index.intersection(cell_of.index), ["transit_stop_m"]]
    cells = homes.groupby(cell_of.reindex(homes.index).to_numpy()).mean()
    joined = join_constraints(by_cell, access, cell_access=cells)
    assert (joined["located_by"] == "cell").all()
    expected = cells.loc[by_cell["cell_id"].to_numpy(str), "transit_stop_m"].to_numpy()
    np.testing.assert_allclose(joined["transit_stop_m"].to_numpy(), expected)
    assert (joined["home_id"] == by_cell["cell_id"]).all()


def test_bad_inputs_are_refused_in_both_languages(
    answers: gpd.GeoDataFrame, access: gpd.GeoDataFrame
) -> None:
    with pytest.raises(ValidationError) as err:
        constraint_models(answers.drop(columns=["building_key", "cell_id"]), access)
    assert "localisez" in err.value.message_fr
    with pytest.raises(ValidationError):
        constraint_models(answers, access, min_answers=5)
    with pytest.raises(ValidationError):
        constraint_models(answers, access, weights=pd.Series(-1.0, index=answers.index))
    with pytest.raises(ValidationError):
        margins_of_manoeuvre(answers, access, scenarios=[NOOP, NOOP])
    with pytest.raises(ValidationError):
        constraint_models(answers, access, constraints={"walking": ("transit_stop_m",)})


def test_read_located_answers_from_csv_and_parquet(
    tmp_path: Path, layers: NeighbourhoodLayers, answers: gpd.GeoDataFrame
) -> None:
    sample = answers.iloc[:120]
    points = sample.geometry.to_crs(4326)
    table = pd.DataFrame(sample.drop(columns=["geometry", "building_key", "cell_id"]))
    table = table.assign(lon=points.x.round(7), lat=points.y.round(7)).reset_index()
    table.to_csv(tmp_path / "su.csv", index=False)
    from_csv = read_located_answers(tmp_path / "su.csv", layers)
    assert not {"lon", "lat", "geometry"} & set(from_csv.columns)  # coordinates dropped
    assert (from_csv["building_key"] == sample["building_key"]).mean() > 0.9
    assert from_csv["cell_id"].notna().all()
    assert from_csv.attrs["synthetic"] is True
    sample.to_parquet(tmp_path / "su.parquet")
    from_parquet = read_located_answers(tmp_path / "su.parquet", layers)
    assert (from_parquet["building_key"] == sample["building_key"]).all()
    assert from_parquet["transportation_mode"].equals(sample["transportation_mode"])


# --------------------------------------------------------------------------------------------------
# the command


def test_cli_writes_protected_json(tmp_path: Path, answers: gpd.GeoDataFrame) -> None:
    app = typer.Typer()
    app.command("links")(links)
    app.command("other")(lambda: None)  # two commands: typer keeps the sub-command name
    source = tmp_path / "answers.parquet"
    answers.iloc[:400].to_parquet(source)
    out = tmp_path / "links.json"
    osm = str(shared("osm", "lorient_centre.osm.pbf"))
    common = ["--territory", str(DEMO_TERRITORY), "--n-bootstrap", "20", "--out"]
    result = CliRunner().invoke(app, ["links", str(source), osm, *common, str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"), parse_constant=pytest.fail)
    assert report["synthetic"] is True and report["n_located"] == 400
    mobility = next(m for m in report["models"] if m["usage"] == "transportation_mode")
    assert mobility["cv"]["auc"] > mobility["cv"]["baseline_auc"]
    assert {m["scenario"] for m in report["margins"]} == {s.name for s in DEFAULT_SCENARIOS}
    assert all(g["n"] >= MIN_RESPONDENTS for g in report["profiles"]["groups"])
    assert "Mobilité quotidienne" in result.output
    bad = CliRunner().invoke(app, ["links", str(tmp_path / "none.parquet"), osm, "--out", str(out)])
    assert bad.exit_code == 2 and "introuvable" in bad.output
    wrong = CliRunner().invoke(app, ["links", str(source), osm, "--out", str(tmp_path / "x.txt")])
    assert wrong.exit_code == 2 and ".json" in wrong.output


# --------------------------------------------------------------------------------------------------
# the margins' replicates, predicted on the changed homes only, against every home predicted


def _reference_margins(
    answers: pd.DataFrame, access: pd.DataFrame, scenario: Scenario, *, n_bootstrap: int
) -> dict[str, np.ndarray]:
    """Per usage: the saving of the full fit then of each replicate (NaN: failed), the plain way.

    Every model, the full fit and each replicate's, predicts every home of ``access`` with
    ``predict_proba``, as it is and as the scenario changes it; the saving is the weighted mean
    of the difference over every home.
    """
    from qet_geo.analysis._fitting import (
        _Clusters,
        _cutoff_min,
        _design,
        _located,
        _logit,
        _quiet_fits,
    )
    from qet_geo.analysis.footprint import usage_scale
    from qet_geo.analysis.homes import _checked_columns, _join

    columns = _checked_columns(answers, access, None)
    joined = _join(answers, access, columns, None)
    cutoff = _cutoff_min(access)
    located, filled, weights, groups = _located(answers, joined, np.ones(len(answers)), cutoff)
    homes = _plainly_filled(access[columns], cutoff)
    changed = homes.copy()
    for change in scenario.changes:
        changed[change.indicator] = change.apply(changed[change.indicator].to_numpy(float))
    home_w = access["weight"].to_numpy(float) if "weight" in access else np.ones(len(access))
    rng = np.random.default_rng(0)
    clusters = _Clusters(groups)
    replicates = [clusters.sample(rng) for _ in range(n_bootstrap)]
    kg_table = usage_scale("near")
    out: dict[str, np.ndarray] = {}
    with _quiet_fits():
        for usage, candidates in USAGE_CONSTRAINTS.items():
            design = _design(usage, candidates, located, filled, weights, groups, max_missing=0.2)
            if not set(scenario.indicators) & set(design.predictors):
                continue
            z, y, w = design.z(design.x), design.levels, design.w
            counts = np.bincount(y, minlength=4)
            if int((counts[1:] >= MIN_RESPONDENTS).sum()) < 2:
                continue
            full = _logit(z, y, w, 100.0)
            required = [lv for lv in full.classes_ if counts[lv] >= MIN_RESPONDENTS]
            pos = np.cumsum(design.rows) - 1
            pos[~design.rows] = -1
            models = [full]
            for idx in replicates:
                sub = pos[idx][pos[idx] >= 0]
                present = np.unique(y[sub])
                ok = len(present) >= 2 and np.isin(required, present).all()
                models.append(_logit(z[sub], y[sub], w[sub], 100.0) if ok else None)
            kg = kg_table.loc[usage, [1, 2, 3]].to_numpy(float)
            before = design.z(homes[design.predictors].to_numpy(float))
            after = design.z(changed[design.predictors].to_numpy(float))
            ok = np.isfinite(before).all(axis=1)
            savings = []
            for model in models:
                if model is None:
                    savings.append(np.nan)
                    continue
                levels = kg[np.asarray(model.classes_) - 1]
                drop = (
                    model.predict_proba(np.where(np.isfinite(before), before, 0.0)) @ levels
                    - model.predict_proba(np.where(np.isfinite(after), after, 0.0)) @ levels
                )
                savings.append(float(np.sum(home_w[ok] * drop[ok]) / home_w[ok].sum()))
            out[usage] = np.asarray(savings)
    return out


def _tiled(access: gpd.GeoDataFrame, copies: int) -> pd.DataFrame:
    """The homes of ``access`` repeated (keys suffixed): homes without answers, as in a city."""
    parts = []
    for i in range(copies):
        part = pd.DataFrame(access.drop(columns="geometry"))
        part.index = part.index.astype(str) + ("" if i == 0 else f"#{i}")
        parts.append(part)
    out = pd.concat(parts)
    out.attrs = dict(access.attrs)
    return out


@pytest.mark.parametrize("copies", [1, 3])
def test_margins_match_every_home_predicted_by_every_replicate(
    answers: gpd.GeoDataFrame,
    access: gpd.GeoDataFrame,
    copies: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import qet_geo.analysis.margins as margins_module

    homes = _tiled(access, copies)
    if copies > 1:
        # many blocks of homes and of values, as at city scale
        monkeypatch.setattr(margins_module, "_CHUNK_HOMES", 97)
        monkeypatch.setattr(margins_module, "_CHUNK_VALUES", 1000)
    scenarios = [s for s in DEFAULT_SCENARIOS if s.name in ("food_shop_5min", "cycle_network")]
    scenarios.append(STOPS_300M)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        table = margins_of_manoeuvre(answers, homes, scenarios=scenarios, n_bootstrap=40)
    compared = 0
    for scenario in scenarios:
        reference = _reference_margins(answers, homes, scenario, n_bootstrap=40)
        assert reference, scenario.name
        for usage, savings in reference.items():
            row = table.loc[(scenario.name, usage)]
            # the point estimate is the full fit over every home, exactly as before
            assert row["saving_kgco2e_per_person"] == savings[0]
            reps = savings[1:][np.isfinite(savings[1:])]
            low, high = np.percentile(reps, [2.5, 97.5])
            assert row["saving_kgco2e_per_person_low"] == pytest.approx(low, rel=1e-9, abs=1e-9)
            assert row["saving_kgco2e_per_person_high"] == pytest.approx(high, rel=1e-9, abs=1e-9)
            assert high > low
            compared += 1
    assert compared >= 4


def test_replicates_predicted_at_once_match_predict_proba() -> None:
    from sklearn.linear_model import LogisticRegression

    from qet_geo.analysis.margins import _expected_kg_many

    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 3))
    y = 1 + (x[:, 0] + rng.normal(size=300) > 0) + (x[:, 1] + rng.normal(size=300) > 0.8)
    models = [
        LogisticRegression(C=100.0).fit(x[i:], y[i:]) for i in range(0, 60, 6)
    ]  # three levels
    models.append(LogisticRegression(C=100.0).fit(x, np.minimum(y, 2)))  # two levels (1, 2)
    models.append(LogisticRegression(C=100.0).fit(x[y > 1], y[y > 1]))  # two levels (2, 3)
    # near-separated: logits far beyond what exp can take (the largest one is subtracted first)
    steep = LogisticRegression(C=100.0).fit(x, y)
    steep.coef_ = steep.coef_ * 1000.0
    models.append(steep)
    kg = np.array([150.0, 900.0, 2300.0])
    z = np.vstack([rng.normal(size=(5000, 3)), rng.normal(size=(20, 3)) * 1000.0])
    got = _expected_kg_many(models, z, kg)
    assert np.abs(z[-20:] @ steep.coef_.T).max() > 1e4
    for j, model in enumerate(models):
        want = model.predict_proba(z) @ kg[np.asarray(model.classes_) - 1]
        np.testing.assert_allclose(got[:, j], want, rtol=1e-12, atol=1e-9)
    assert np.isfinite(got).all()


def _plainly_filled(values: pd.DataFrame, cutoff_min: float) -> pd.DataFrame:
    """The nearest distances and times with "none within 5 km" as the cutoff, the plain way.

    A column with no value at all (no railway station within the search of any home) stays NaN:
    the indicator is unknown there, and a model leaves it out.
    """
    from qet_geo.constraints.access import NEAREST_CUTOFF_M
    from qet_geo.constraints.indicators import INDICATORS, nearest_m, nearest_min

    out = values.astype(float).copy()
    for col in out.columns:
        entry = INDICATORS.get(str(col))
        if entry is None or entry.category is None or out[col].isna().all():
            continue
        distance, time = nearest_m(entry.category), nearest_min(entry.category)
        if col == distance and time in out.columns:
            out[col] = out[col].fillna(NEAREST_CUTOFF_M)
        elif col == time and distance in out.columns:
            out[col] = out[col].fillna(cutoff_min)
    return out


def test_filled_homes_are_the_plain_fill(access: gpd.GeoDataFrame) -> None:
    from qet_geo.analysis._fitting import _cutoff_min, _filled
    from qet_geo.analysis.homes import _checked_columns

    columns = _checked_columns(pd.DataFrame({"building_key": []}), access, None)
    cutoff = _cutoff_min(access)
    # Lorient has nearest amenities beyond the 5 km search (NaN) to fill
    assert access[columns].isna().any().any()
    filled = _filled(access, cutoff, columns)
    pd.testing.assert_frame_equal(filled, _plainly_filled(access[columns], cutoff))
    pd.testing.assert_frame_equal(_filled(access[columns], cutoff), filled)
    # a time without its distance keeps its NaN: the pair is looked for among the columns given
    alone = [c for c in columns if c.endswith("_min")][:1]
    pd.testing.assert_frame_equal(
        _filled(access, cutoff, alone), _plainly_filled(access[alone], cutoff)
    )
    assert access[columns].equals(pd.DataFrame(access)[columns])  # the input left as it was


def test_join_gives_each_answer_its_homes_row(
    answers: gpd.GeoDataFrame, access: gpd.GeoDataFrame
) -> None:
    homes = _tiled(access, 3)
    spread = pd.DataFrame(answers.drop(columns="geometry")).iloc[:200].copy()
    keys = spread["building_key"].astype("string").to_numpy(dtype=object)
    keys[::3] = [f"{k}#2" for k in keys[::3]]
    keys[1] = "not-a-home"
    keys[4] = pd.NA
    spread["building_key"] = pd.array(keys, dtype="string")
    with pytest.warns(QetGeoWarning, match="2 (of|réponses sur) 200"):
        joined = join_constraints(spread, homes)
    indicators = [c for c in joined.columns if c not in ("located_by", "home_id")]
    for i, key in enumerate(keys):
        row = joined.iloc[i]
        if key is pd.NA or key not in homes.index:
            assert pd.isna(row["located_by"]) and pd.isna(row["home_id"])
            assert row[indicators].isna().all()
            continue
        assert row["located_by"] == "building" and row["home_id"] == key
        want = homes.loc[key, indicators].astype(float).to_numpy()
        np.testing.assert_array_equal(row[indicators].to_numpy(dtype=float), want)
