"""Labelled-synthetic SU answers on the real buildings of Lorient, and the `synthesize` command."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from qet_geo.analysis.reference import reference_profiles
from qet_geo.cli.synth import synthesize
from qet_geo.constraints.access import neighbourhood_access
from qet_geo.errors import ValidationError
from qet_geo.inputs.census import point_to_cell_id
from qet_geo.layers import NeighbourhoodLayers, build_layers
from qet_geo.surveys.representativeness import census_margins
from qet_geo.surveys.schema import USAGES
from qet_geo.surveys.synthetic import (
    DEFAULT_MARGINS,
    ENTD_MODE_SHARES,
    SYNTHETIC_PREFIX,
    CarUseModel,
    entd_mode_shares,
    synthesize_answers,
)
from tests.conftest import shared


@pytest.fixture(scope="module")
def lorient_layers() -> NeighbourhoodLayers:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_layers(shared("osm", "lorient_centre.osm.pbf"))


@pytest.fixture(scope="module")
def lorient_access(lorient_layers: NeighbourhoodLayers) -> gpd.GeoDataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few homes and shops off the street network
        return neighbourhood_access(lorient_layers, mode="walk")


@pytest.fixture(scope="module")
def answers(
    lorient_layers: NeighbourhoodLayers, lorient_access: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    return synthesize_answers(lorient_layers, 4000, seed=7, access=lorient_access)


def _shares(values: pd.Series) -> pd.Series:
    return values.astype(int).value_counts(normalize=True).reindex([1, 2, 3], fill_value=0.0)


# --------------------------------------------------------------------------------------------------
# calibration data


def test_entd_mode_shares_are_the_file() -> None:
    shares = entd_mode_shares(shared("surveys", "entd2008", "short_dist_trips.parquet"))
    assert list(shares.index) == ["B", "C", "I", "R"]
    for category, levels in ENTD_MODE_SHARES.items():
        for level, share in levels.items():
            assert shares.at[category, level] == pytest.approx(share, abs=6e-4)
    # cars dominate outside city centres, transit is an urban mode
    table = shares.to_numpy(float)
    b, r = list(shares.index).index("B"), list(shares.index).index("R")
    assert table[r, 2] > table[b, 2]  # car
    assert table[b, 1] > table[r, 1]  # public transport


# --------------------------------------------------------------------------------------------------
# the answers


def test_answers_are_labelled_synthetic_everywhere(answers: gpd.GeoDataFrame) -> None:
    assert len(answers) == 4000
    assert answers.index.name == "respondent_id"
    assert answers.index.str.startswith(SYNTHETIC_PREFIX).all()
    assert answers.index.is_unique
    assert answers["synthetic"].dtype == bool and answers["synthetic"].all()
    assert answers.attrs["synthetic"] is True
    for usage in USAGES:
        assert str(answers[usage].dtype) == "Int8"
        assert answers[usage].isin([1, 2, 3]).all()
    assert answers.crs.to_epsg() == 2154


def test_answers_sit_on_real_residential_buildings(
    answers: gpd.GeoDataFrame, lorient_layers: NeighbourhoodLayers
) -> None:
    buildings = lorient_layers.layers["buildings"]
    residential = buildings[buildings["residential"]]
    assert answers["building_key"].isin(residential.index).all()
    homes = residential.loc[answers["building_key"].to_numpy()]
    # the point is the building's own representative point, inside its footprint
    assert (
        homes.geometry.representative_point()
        .geom_equals(gpd.GeoSeries(answers.geometry.to_numpy(), crs=answers.crs, index=homes.index))
        .all()
    )
    assert answers.geometry.intersects(
        gpd.GeoSeries(homes.geometry.to_numpy(), crs=homes.crs, index=answers.index)
    ).all()
    expected_cells = point_to_cell_id(answers.geometry)
    assert (answers["cell_id"] == expected_cells).all()
    assert answers["cell_id"].str.startswith("CRS3035RES200m").all()
    # many buildings are used, big ones (more floor area) more often
    counts = answers["building_key"].value_counts()
    assert len(counts) > 500
    area = residential["floor_area_m2"]
    top = area.loc[counts.index[:50]].mean()
    assert top > area.median()


def test_marginals_follow_survey_0(
    survey0: pd.DataFrame,
    lorient_layers: NeighbourhoodLayers,
    lorient_access: gpd.GeoDataFrame,
    answers: gpd.GeoDataFrame,
) -> None:
    complete = survey0.dropna(subset=list(USAGES))
    # calibrated on the reference's own mobility mix: all six marginals within tolerance
    same_mix = synthesize_answers(
        lorient_layers, 4000, seed=3, access=lorient_access, mode_shares="reference"
    )
    for usage in USAGES:
        gap = (_shares(same_mix[usage]) - _shares(complete[usage])).abs().max()
        assert gap < 0.035, (usage, gap)
    # calibrated on ENTD 2008 (city centre): mobility follows ENTD, and each other usage follows
    # survey_0's distribution given the mobility level, mixed with ENTD's mobility shares
    target = pd.Series(ENTD_MODE_SHARES["B"])
    assert (_shares(answers["transportation_mode"]) - target).abs().max() < 0.025
    mobility = complete["transportation_mode"].astype(int)
    for usage in USAGES:
        if usage == "transportation_mode":
            continue
        given = pd.crosstab(mobility, complete[usage].astype(int), normalize="index")
        expected = (given.mul(target, axis=0)).sum(axis=0).reindex([1, 2, 3], fill_value=0.0)
        gap = (_shares(answers[usage]) - expected).abs().max()
        assert gap < 0.03, (usage, gap)
        assert (_shares(answers[usage]) - _shares(complete[usage])).abs().max() < 0.1
    # the joint structure is the reference's: every synthetic profile was really answered
    real = set(map(tuple, reference_profiles().astype(int).to_numpy()))
    made = set(map(tuple, answers[list(USAGES)].astype(int).to_numpy()))
    assert made <= real
    assert len(made) > 100


def test_car_use_is_higher_where_transit_is_far(
    answers: gpd.GeoDataFrame,
    lorient_layers: NeighbourhoodLayers,
    lorient_access: gpd.GeoDataFrame,
) -> None:
    joined = answers.join(lorient_access[["transit_stop_m", "food_shop_min"]], on="building_key")
    near_q, far_q = joined["transit_stop_m"].quantile([0.25, 0.75])
    car = joined["transportation_mode"] == 3
    near = car[joined["transit_stop_m"] <= near_q].mean()
    far = car[joined["transit_stop_m"] >= far_q].mean()
    assert far - near > 0.2, (near, far)
    transit = joined["transportation_mode"] == 2
    assert (
        transit[joined["transit_stop_m"] <= near_q].mean()
        > transit[joined["transit_stop_m"] >= far_q].mean()
    )
    # without the access effects, the signal vanishes
    flat = synthesize_answers(
        lorient_layers,
        4000,
        seed=7,
        access=lorient_access,
        model=CarUseModel(stop=0, departures=0, shop=0, transit_stop=0, transit_departures=0),
    )
    flat_joined = flat.join(lorient_access[["transit_stop_m"]], on="building_key")
    flat_car = flat_joined["transportation_mode"] == 3
    gap = abs(
        flat_car[flat_joined["transit_stop_m"] >= far_q].mean()
        - flat_car[flat_joined["transit_stop_m"] <= near_q].mean()
    )
    assert gap < 0.07


def test_deterministic_by_seed(
    lorient_layers: NeighbourhoodLayers,
    lorient_access: gpd.GeoDataFrame,
    answers: gpd.GeoDataFrame,
) -> None:
    again = synthesize_answers(lorient_layers, 4000, seed=7, access=lorient_access)
    pd.testing.assert_frame_equal(pd.DataFrame(again), pd.DataFrame(answers))
    other = synthesize_answers(lorient_layers, 4000, seed=8, access=lorient_access)
    assert not other[list(USAGES)].equals(answers[list(USAGES)])
    # computing the access inside gives the same answers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inside = synthesize_answers(lorient_layers, 50, seed=7)
    outside = synthesize_answers(lorient_layers, 50, seed=7, access=lorient_access)
    pd.testing.assert_frame_equal(pd.DataFrame(inside), pd.DataFrame(outside))


def test_demographics_are_plausible(answers: gpd.GeoDataFrame) -> None:
    for variable, margin in DEFAULT_MARGINS.items():
        shares = answers[variable].value_counts(normalize=True)
        for category, share in margin.items():
            assert shares.get(category, 0.0) == pytest.approx(share, abs=0.025), (
                variable,
                category,
            )
    young = answers["age_band"] == "15-29"
    assert not (answers.loc[young, "csp"] == "CS7").any()  # no retired 15-29-year-olds
    old = answers["age_band"] == "75+"
    assert (answers.loc[old, "csp"] == "CS7").mean() > 0.8
    assert set(answers["gender"]) <= {"F", "M"}


def test_census_margins_of_porte_d_orleans(
    lorient_layers: NeighbourhoodLayers, lorient_access: gpd.GeoDataFrame
) -> None:
    csp = census_margins(
        shared("census", "paris_iris", "RP_2011_CS8_Paris_by_IRIS.csv"),
        "csp",
        codes=["751145501", "751145502", "751145503"],
    )
    made = synthesize_answers(
        lorient_layers, 3000, seed=1, access=lorient_access, margins={"csp": csp}
    )
    shares = made["csp"].value_counts(normalize=True)
    target = csp / csp.sum()
    for category, share in target.items():
        assert shares.get(category, 0.0) == pytest.approx(share, abs=0.025)
    assert "CS1" not in shares.index  # no farmer in the Paris IRIS


def test_bad_input(lorient_layers: NeighbourhoodLayers, lorient_access: gpd.GeoDataFrame) -> None:
    cases: list[dict[str, Any]] = [
        {"n": 0},
        {"n": 10, "urban_category": "Z"},
        {"n": 10, "mode_shares": {1: -1, 2: 1, 3: 1}},
        {"n": 10, "mode_shares": "survey"},
        {"n": 10, "margins": {"income": {"low": 1}}},
        {"n": 10, "margins": {"gender": {"F": 1, "X": 1}}},
        {"n": 10, "seed": 1.5},
    ]
    for kwargs in cases:
        with pytest.raises(ValidationError) as err:
            synthesize_answers(lorient_layers, access=lorient_access, **kwargs)
        assert err.value.message_fr
    only_active = reference_profiles()
    only_active = only_active[only_active["transportation_mode"] == 1]
    with pytest.raises(ValidationError, match="mobility level"):
        synthesize_answers(lorient_layers, 10, access=lorient_access, reference=only_active)


# --------------------------------------------------------------------------------------------------
# the command


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def main() -> None:
        """Test app."""

    app.command("synthesize")(synthesize)
    return app


def test_cli_writes_csv_gpkg_parquet(tmp_path: Path) -> None:
    runner = CliRunner()
    app = _app()
    osm = str(shared("osm", "lorient_centre.osm.pbf"))
    csv = tmp_path / "answers.csv"
    result = runner.invoke(app, ["synthesize", osm, "--n", "120", "--out", str(csv), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["answers"] == 120 and summary["synthetic"] is True
    assert summary["output"] == str(csv)
    table = pd.read_csv(csv, dtype={"respondent_id": str})
    assert len(table) == 120
    assert table["respondent_id"].str.startswith("SYN-").all()
    assert table["synthetic"].all()
    assert {"lon", "lat", "building_key", "cell_id", *USAGES} <= set(table.columns)
    assert table["lon"].between(-3.37, -3.34).all() and table["lat"].between(47.74, 47.76).all()
    # the same seed gives the same file
    again = tmp_path / "again.csv"
    assert runner.invoke(app, ["synthesize", osm, "--n", "120", "--out", str(again)]).exit_code == 0
    assert again.read_text() == csv.read_text()
    for suffix in (".gpkg", ".parquet"):
        path = tmp_path / f"answers{suffix}"
        result = runner.invoke(
            app, ["synthesize", osm, "--n", "60", "--seed", "3", "--out", str(path)]
        )
        assert result.exit_code == 0, result.output
        assert "synthétiques" in result.stdout
        read = gpd.read_parquet(path) if suffix == ".parquet" else gpd.read_file(path)
        assert len(read) == 60 and read["synthetic"].all()
        assert read.crs.to_epsg() == 2154


def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    app = _app()
    osm = str(shared("osm", "lorient_centre.osm.pbf"))
    cases = [
        ([osm, "--out", str(tmp_path / "a.txt")], ".csv"),
        ([osm, "--out", str(tmp_path / "a.csv"), "--n", "0"], "--n"),
        ([osm, "--out", str(tmp_path / "a.csv"), "--urban-category", "Z"], "--urban-category"),
        ([str(tmp_path / "missing.osm.pbf"), "--out", str(tmp_path / "a.csv")], "missing"),
    ]
    for args, needle in cases:
        result = runner.invoke(app, ["synthesize", *args])
        assert result.exit_code == 2, (args, result.output)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("Erreur") and needle in lines[0]
        assert not any(tmp_path.glob("a.*"))
