"""Located answers: a survey of another place is refused, a few stray answers are set aside."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from qet_geo.cli.main import app
from qet_geo.errors import DataCoverageError, QetGeoWarning
from qet_geo.layers import build_layers
from qet_geo.surveys.located import MAX_ELSEWHERE_SHARE, read_located_answers
from qet_geo.surveys.synthetic import synthesize_answers
from tests.conftest import shared


def _layers(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_layers(shared("osm", name))


@pytest.fixture(scope="module")
def lorient():
    return _layers("lorient_centre.osm.pbf")


@pytest.fixture(scope="module")
def answers(lorient) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    nantes = _layers("nantes_hypercentre.osm.pbf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        here = synthesize_answers(lorient, 100, seed=1)
        there = synthesize_answers(nantes, 60, seed=2)
    there.index = there.index.str.replace("SYN-", "SYN-NANTES-")
    return here, there


def _write(frame: gpd.GeoDataFrame, path: Path) -> Path:
    frame.reset_index().to_file(path, driver="GPKG")
    return path


def test_a_survey_of_another_town_is_refused(tmp_path, lorient, answers) -> None:
    _, there = answers
    path = _write(there, tmp_path / "nantes.gpkg")
    with pytest.raises(DataCoverageError) as err:
        read_located_answers(path, lorient)
    text = err.value.localized("fr")
    assert "60 des 60 réponses" in text and "autre quartier" in text
    assert "elsewhere" in err.value.localized("en")


def test_a_few_stray_answers_are_set_aside_and_listed(tmp_path, lorient, answers) -> None:
    here, there = answers
    stray = there.iloc[:3]
    assert len(stray) / (len(here) + len(stray)) <= MAX_ELSEWHERE_SHARE
    path = _write(pd.concat([here, stray]), tmp_path / "mixed.gpkg")
    with pytest.warns(QetGeoWarning, match="3 answer") as record:
        located = read_located_answers(path, lorient)
    assert len(located) == len(here)
    assert not located.index.str.startswith("SYN-NANTES-").any()
    assert any(stray.index[0] in str(w.message) for w in record)
    assert located.attrs["synthetic"] is True


def test_the_diagnostic_refuses_another_towns_survey(tmp_path, answers) -> None:
    _, there = answers
    path = _write(there, tmp_path / "nantes.gpkg")
    out = tmp_path / "report"
    args = ["diagnose", "--osm", str(shared("osm", "lorient_centre.osm.pbf"))]
    res = CliRunner().invoke(app, [*args, "--survey", str(path), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "autre quartier" in res.output and not out.exists()
