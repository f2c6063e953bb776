"""The labelled-synthetic MdV/EdV and NosGestesClimat generators, and ``qet survey synthesize --kind``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point
from typer.testing import CliRunner

from qet_geo.analysis.footprint import ngc_usage_footprints, read_ngc_scale, su_footprints
from qet_geo.constraints.indicators import nearest_min
from qet_geo.errors import ValidationError
from qet_geo.surveys.mdv import read_mdv
from qet_geo.surveys.ngc import read_ngc
from qet_geo.surveys.schema import USAGES
from qet_geo.surveys.synthetic_others import NGC_DEFAULTS, synthetic_mdv, synthetic_ngc
from tests.conftest import shared

TERRITORY = Path(__file__).resolve().parents[2] / "data" / "osm" / "lorient_centre.geojson"
FOOD = nearest_min("food_shop")


@pytest.fixture
def access() -> gpd.GeoDataFrame:
    """Forty homes in Lorient (Lambert-93), half far from a food shop, half next to one."""
    minutes = [25.0] * 20 + [2.0] * 20
    points = [Point(225_000 + 30 * i, 6_757_000 + 20 * (i % 5)) for i in range(40)]
    return gpd.GeoDataFrame(
        {FOOD: minutes}, geometry=points, crs="EPSG:2154", index=[f"w{i}" for i in range(40)]
    )


@pytest.fixture
def su_answers() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    levels = rng.integers(1, 4, size=(60, len(USAGES)))
    frame = pd.DataFrame(levels, columns=list(USAGES), index=[f"SYN-{i:06d}" for i in range(60)])
    frame.iloc[0, 0] = pd.NA  # one usage unanswered: NGC's default
    return frame


def test_mdv_rows_are_labelled_located_and_read(access, tmp_path: Path) -> None:
    frame = synthetic_mdv(access, n=50, n_planted=10, seed=1)
    assert len(frame) == 70 and frame["respondent_id"].str.startswith("SYN-").all()
    assert frame["synthetic"].all()
    assert set(frame["building_key"]) <= set(access.index)
    # the planted groups sit where they say
    missing = frame[frame["plant"] == "missing"]["building_key"]
    assert (access.loc[missing, FOOD] > 15).all()
    assert frame["cell_id"].str.startswith("CRS3035RES200m").all()
    assert frame["lon"].between(-3.5, -3.2).all() and frame["lat"].between(47.6, 47.9).all()
    path = tmp_path / "mdv.csv"
    frame.drop(columns=["plant"]).to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read = read_mdv(path)
    assert read.summary()["accepted"] == 70
    # deterministic
    pd.testing.assert_frame_equal(frame, synthetic_mdv(access, n=50, n_planted=10, seed=1))


def test_mdv_refuses_what_it_cannot_plant(access) -> None:
    near_only = access.assign(**{FOOD: 1.0})
    with pytest.raises(ValidationError, match="n_planted=0"):
        synthetic_mdv(near_only, n=5, n_planted=3)
    assert len(synthetic_mdv(near_only, n=5, n_planted=0)) == 5
    with pytest.raises(ValidationError, match="SYN-"):
        synthetic_mdv(access, prefix="X-")


def test_ngc_rows_follow_the_su_answers_through_the_scale(su_answers, tmp_path: Path) -> None:
    frame = synthetic_ngc(su_answers, seed=2)
    assert list(frame["respondent_id"]) == list(su_answers.index)
    assert frame["synthetic"].all()
    path = tmp_path / "ngc.csv"
    frame.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read = read_ngc(path)
    assert read.summary()["accepted"] == len(su_answers)
    assert read.coding == "kgco2e"
    back = ngc_usage_footprints(read.answers)
    expected = su_footprints(su_answers, scale="ngc")
    expected.index = expected.index.astype(str)
    for usage in USAGES:
        if usage == "meat_frequency":  # NGC's column is the whole of alimentation
            continue
        got = back[f"{usage}_kgco2e"].to_numpy(dtype=float)
        want = expected.loc[back.index, f"{usage}_kgco2e"].to_numpy(dtype=float)
        answered = ~np.isnan(want)
        assert np.allclose(got[answered], want[answered], atol=0.06), usage
    # an unanswered usage keeps NGC's default; the total is the sum of the categories
    default = read_ngc_scale().groupby("usage")["default_kgco2e"].first()
    answers = read.answers
    assert answers["total"].sum() == pytest.approx(
        answers[list(NGC_DEFAULTS)].sum(axis=1).sum(), rel=1e-4
    )
    assert answers["total"].mean() == pytest.approx(sum(NGC_DEFAULTS.values()), rel=0.35)
    assert default["meat_frequency"] == pytest.approx(1496.6)


def test_ngc_share_and_real_respondents(su_answers) -> None:
    part = synthetic_ngc(su_answers, share=0.5, seed=0)
    assert len(part) == 30 and set(part["respondent_id"]) <= set(su_answers.index)
    real = su_answers.set_axis([str(i) for i in range(len(su_answers))])
    with pytest.raises(ValidationError, match="SYN-"):
        synthetic_ngc(real)
    with pytest.raises(ValidationError):
        synthetic_ngc(su_answers, share=0)


def _run(args: list[str]) -> str:
    from qet_geo.cli.main import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]  # the JSON line, after the extract's warnings


def test_the_command_makes_the_three_surveys_of_one_demo(tmp_path: Path) -> None:
    osm = str(shared("osm", "lorient_centre.osm.gz"))
    su, mdv, ngc = tmp_path / "su.csv", tmp_path / "mdv.csv", tmp_path / "ngc.csv"
    common = ["--territory", str(TERRITORY), "--seed", "1", "--json"]
    _run(["survey", "synthesize", osm, "--n", "40", "--out", str(su), *common])
    out = json.loads(_run(["survey", "synthesize", osm, "--kind", "mdv", "--n", "30",
                           "--out", str(mdv), *common]))  # fmt: skip
    assert out["kind"] == "mdv" and out["answers"] == 30 and out["synthetic"] is True
    out = json.loads(
        _run(
            ["survey", "synthesize", "--kind", "ngc", "--su", str(su), "--out", str(ngc), "--json"]
        )
    )
    assert out["answers"] == 40
    su_ids = set(pd.read_csv(su)["respondent_id"])
    assert set(pd.read_csv(ngc)["respondent_id"]) == su_ids
    table = pd.read_csv(mdv)
    assert "plant" not in table.columns and table["respondent_id"].str.startswith("SYN-").all()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--kind", "ngc", "--out", "x.csv"], "--su"),
        (["--kind", "mdv", "--out", "x.csv"], "extrait OSM"),
        (["--kind", "xyz", "--out", "x.csv"], "su, mdv ou ngc"),
        (["--kind", "ngc", "--su", "a.csv", "--out", "x.gpkg"], ".csv"),
    ],
)
def test_the_command_says_what_is_missing(args: list[str], words: str) -> None:
    from qet_geo.cli.main import app

    result = CliRunner().invoke(app, ["survey", "synthesize", *args])
    assert result.exit_code == 2 and words in result.output
    assert "Traceback" not in result.output


def test_the_command_refuses_ngc_for_a_real_survey(tmp_path: Path) -> None:
    from qet_geo.cli.main import app

    real = shared("surveys", "near_su", "survey_0.tsv")
    result = CliRunner().invoke(
        app,
        [
            "survey",
            "synthesize",
            "--kind",
            "ngc",
            "--su",
            str(real),
            "--out",
            str(tmp_path / "n.csv"),
        ],
    )
    assert result.exit_code == 2 and "réelles" in result.output
    assert not (tmp_path / "n.csv").exists()
