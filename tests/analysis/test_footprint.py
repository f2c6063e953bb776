"""Footprints: NEAR's scale, the NosGestesClimat scale (re-evaluated with node) and NGC results."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from qet_geo.analysis.footprint import (
    NGC_SCALE_PATH,
    NGC_USAGE_SOURCES,
    neighbourhood_footprint,
    ngc_usage_footprints,
    profile_footprints,
    read_ngc_results,
    read_ngc_scale,
    su_footprints,
    usage_scale,
)
from qet_geo.errors import InputFileError, QetGeoWarning, ValidationError
from qet_geo.surveys.ngc import read_ngc
from qet_geo.surveys.representativeness import raking_weights
from qet_geo.surveys.schema import NEAR_KGCO2E, NGC_COLUMNS, USAGES
from qet_geo.surveys.synthetic import entd_main_modes
from tests.conftest import shared

ROOT = Path(__file__).resolve().parents[2]
NGC_DIR = ROOT / "scripts" / "ngc"


def _at(frame: pd.DataFrame, row: Any, column: Any) -> float:
    """One cell as a float (pandas-stubs type a cell as any scalar)."""
    value: Any = frame.at[row, column]
    return float(value)


# --------------------------------------------------------------------------------------------------
# NEAR scale


def test_near_footprints_are_exact_from_the_table(survey0: pd.DataFrame) -> None:
    fp = su_footprints(survey0, scale="near")
    assert len(fp) == len(survey0) == 314
    assert fp.index.equals(survey0.index)
    for usage in USAGES:
        expected = survey0[usage].map(NEAR_KGCO2E[usage], na_action="ignore").astype(float)
        np.testing.assert_array_equal(fp[f"{usage}_kgco2e"].to_numpy(), expected.to_numpy())
    complete = survey0[list(USAGES)].notna().all(axis=1)
    assert int(complete.sum()) == 313
    manual = fp[[f"{u}_kgco2e" for u in USAGES]].sum(axis=1)
    np.testing.assert_allclose(fp["total_kgco2e"][complete], manual[complete])
    # the respondent who skipped the flight question has no total
    assert fp.loc[~complete, "total_kgco2e"].isna().all()
    assert fp.attrs["scale"] == "near"
    # one row by hand: respondent 4 (all meals, active, games, mixed, 0 flights, electricity)
    row = fp.loc[survey0.index[0]]
    assert row["total_kgco2e"] == 2000 + 0 + 360 + 800 + 0 + 200


def test_custom_scale_and_bad_levels(survey0: pd.DataFrame) -> None:
    doubled = {u: {lv: 2 * v for lv, v in levels.items()} for u, levels in NEAR_KGCO2E.items()}
    fp = su_footprints(survey0, scale=doubled)
    near = su_footprints(survey0)
    np.testing.assert_allclose(fp["total_kgco2e"].dropna(), 2 * near["total_kgco2e"].dropna())
    assert fp.attrs["scale"] == "custom"
    bad = survey0.copy()
    bad["heat_source"] = bad["heat_source"].astype(object)
    bad.loc[bad.index[0], "heat_source"] = 7
    with pytest.raises(ValidationError, match="level 1, 2 or 3"):
        su_footprints(bad)
    with pytest.raises(ValidationError, match="Unknown scale"):
        su_footprints(survey0, scale="ademe")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        usage_scale({"meat_frequency": {1: 1.0, 2: 2.0}})


# --------------------------------------------------------------------------------------------------
# NGC scale


def test_ngc_scale_table_is_complete_and_plausible() -> None:
    table = read_ngc_scale()
    assert len(table) == 18
    assert "@incubateur-ademe/nosgestesclimat 4.10.2" in table.attrs["model"]
    assert "publicodes 1.10.3" in table.attrs["engine"]
    assert re.match(r"\d{4}-\d{2}-\d{2}", table.attrs["evaluated"])
    # NGC's empty situation, the "average French": about 8.3 t a year
    assert 8000 < table.attrs["default_situation_bilan_kgco2e"] < 8600
    scale = usage_scale("ngc")
    # every usage grows with its level
    assert (scale.diff(axis=1).iloc[:, 1:] > 0).all(axis=None)
    # car as main mode costs more than a tonne over active mobility; frequent flying dominates
    assert _at(scale, "transportation_mode", 3) - _at(scale, "transportation_mode", 1) > 1000
    assert _at(scale, "air_travel_frequency", 3) > _at(scale, "air_travel_frequency", 1)
    assert _at(scale, "air_travel_frequency", 1) == 0
    assert _at(scale, "meat_frequency", 3) > 2 * _at(scale, "meat_frequency", 1)
    assert (
        _at(scale, "heat_source", 3) > _at(scale, "heat_source", 2) > _at(scale, "heat_source", 1)
    )
    # only the usage's scope changes: the rest of the footprint is NGC's default
    rest = table["bilan_kgco2e"] - table["kgco2e"]
    default_rest = table.attrs["default_situation_bilan_kgco2e"] - table["default_kgco2e"]
    assert (rest - default_rest).abs().max() < 0.2
    assert set(table["usage"]) == set(USAGES)


def test_ngc_footprints_use_the_table(survey0: pd.DataFrame) -> None:
    fp = su_footprints(survey0, scale="ngc")
    scale = usage_scale("ngc")
    respondent = survey0.index[1]
    for usage in USAGES:
        level = int(survey0.loc[respondent, usage])
        assert fp.loc[respondent, f"{usage}_kgco2e"] == scale.loc[usage, level]
    assert fp.attrs["scale"] == "ngc"


def test_ngc_scale_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"evaluate\.mjs"):
        read_ngc_scale(tmp_path / "none.csv")
    partial = tmp_path / "partial.csv"
    lines = NGC_SCALE_PATH.read_text(encoding="utf-8").splitlines()
    partial.write_text("\n".join(lines[:-2]) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="heat_source/2"):
        read_ngc_scale(partial)


def test_car_km_figure_is_entd_2008() -> None:
    """The car level's 13 000 km a year is ENTD 2008's car-main-mode people's distance."""
    script = (NGC_DIR / "evaluate.mjs").read_text(encoding="utf-8")
    found = re.search(r"const CAR_KM_PER_YEAR = (\d+)", script)
    assert found is not None, "evaluate.mjs no longer states CAR_KM_PER_YEAR"
    km = int(found.group(1))
    people = entd_main_modes(shared("surveys", "entd2008", "short_dist_trips.parquet"))
    car = people[people["level"] == 3]
    weekday = np.average(car["car_km_weekday"], weights=car["weight"])
    seen = car.dropna(subset=["car_km_weekend"])
    weekend = np.average(seen["car_km_weekend"], weights=seen["weight"])
    yearly = (5 * weekday + 2 * weekend) * 52
    assert weekday == pytest.approx(37.5, abs=0.05)
    assert weekend == pytest.approx(35.0, abs=0.05)
    assert abs(yearly - km) / km < 0.05
    assert round(yearly, -3) == km


def test_ngc_scale_matches_a_fresh_evaluation(tmp_path: Path) -> None:
    """Re-evaluate the NGC model with node and compare with the committed table.

    Never skipped: without node or the pinned packages the test fails and says how to install.
    """
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "node is not installed: the NGC scale cannot be re-evaluated. Install Node.js 20 or "
            "later, then run `npm ci --ignore-scripts` in scripts/ngc."
        )
    for package in ("publicodes", "@incubateur-ademe/nosgestesclimat"):
        if not (NGC_DIR / "node_modules" / package / "package.json").is_file():
            pytest.fail(
                f"scripts/ngc/node_modules/{package} is missing: run `cd scripts/ngc && npm ci "
                "--ignore-scripts` (the versions are pinned in package-lock.json)."
            )
    out = tmp_path / "ngc_scale.csv"
    run = subprocess.run(
        [node, "evaluate.mjs", "--out", str(out)],
        cwd=NGC_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    fresh = read_ngc_scale(out)
    committed = read_ngc_scale()
    assert fresh.attrs["model"] == committed.attrs["model"]
    assert fresh.attrs["engine"] == committed.attrs["engine"]
    key = ["usage", "level"]
    pd.testing.assert_frame_equal(
        fresh.sort_values(key).reset_index(drop=True),
        committed.sort_values(key).reset_index(drop=True),
        check_exact=False,
        atol=0.051,
        rtol=0,
    )


# --------------------------------------------------------------------------------------------------
# aggregates


def test_neighbourhood_and_profile_footprints_weighted(survey0: pd.DataFrame) -> None:
    answers = survey0.dropna(subset=list(USAGES))
    fp = su_footprints(answers, scale="near")
    rng = np.random.default_rng(2)
    demo = pd.DataFrame(
        {"gender": rng.choice(["F", "M"], len(answers), p=[0.7, 0.3])}, index=answers.index
    )
    weights = raking_weights(demo, {"gender": {"F": 52, "M": 48}})
    table = neighbourhood_footprint(fp, weights=weights, population=2000)
    w = weights.to_numpy()
    for col in fp.columns:
        assert table.loc[col, "mean_kgco2e"] == pytest.approx(np.average(fp[col], weights=w))
    assert _at(table, "total_kgco2e", "respondents") == 313
    usage_rows = [f"{u}_kgco2e" for u in USAGES]
    assert table.loc[usage_rows, "share"].sum() == pytest.approx(1.0)
    assert _at(table, "total_kgco2e", "total_tco2e") == pytest.approx(
        _at(table, "total_kgco2e", "mean_kgco2e") * 2000 / 1000
    )
    assert _at(table, "total_kgco2e", "effective_n") < 313
    assert _at(table, "total_kgco2e", "ci95_kgco2e") > 0
    unweighted = neighbourhood_footprint(fp)
    assert unweighted.loc["total_kgco2e", "mean_kgco2e"] == pytest.approx(fp["total_kgco2e"].mean())
    # per profile: here the mobility level stands for a profile
    profiles = answers["transportation_mode"].map({1: "actif", 2: "transports", 3: "voiture"})
    per = profile_footprints(fp, profiles, weights=weights)
    assert per["respondents"].sum() == 313
    assert per["weight_share"].sum() == pytest.approx(1.0)
    member = (profiles == "voiture").to_numpy()
    assert _at(per, "voiture", "transportation_mode_kgco2e") == pytest.approx(2300)
    assert _at(per, "voiture", "total_kgco2e") == pytest.approx(
        np.average(fp["total_kgco2e"][member], weights=w[member])
    )
    with pytest.raises(ValidationError, match="weights"):
        neighbourhood_footprint(fp, weights=weights.iloc[:10])


# --------------------------------------------------------------------------------------------------
# imported NGC results


def test_read_ngc_results_french_titles_in_tonnes(tmp_path: Path) -> None:
    path = tmp_path / "ngc.csv"
    path.write_text(
        "Identifiant;Empreinte totale (t);Alimentation (t);Transport (t);Logement (t);"
        "Divers (t);Services sociétaux (t);Avion (t);Voiture (t);Transports en commun (t);"
        "Chauffage (t);Numérique (t);Textile (t)\n"
        "a1;8,3;2,0;2,0;1,7;1,2;1,4;0,4;1,5;0,05;0,6;0,2;0,3\n"
        "a2;5,1;1,2;0,6;1,0;0,9;1,4;0;0,5;0,1;0,3;0,1;0,2\n",
        encoding="utf-8",
    )
    results = read_ngc_results(path)
    assert list(results.index) == ["a1", "a2"]
    assert _at(results, "a1", "total") == pytest.approx(8300)
    assert _at(results, "a1", "transport_commun") == pytest.approx(50)
    assert _at(results, "a2", "services_societaux") == pytest.approx(1400)
    usages = ngc_usage_footprints(results)
    assert _at(usages, "a1", "transportation_mode_kgco2e") == pytest.approx(1550)
    assert _at(usages, "a1", "meat_frequency_kgco2e") == pytest.approx(2000)
    assert _at(usages, "a1", "air_travel_frequency_kgco2e") == pytest.approx(400)
    mapped = usages[[f"{u}_kgco2e" for u in NGC_USAGE_SOURCES]].sum(axis=1)
    np.testing.assert_allclose(usages["other_kgco2e"] + mapped, usages["total_kgco2e"])
    table = neighbourhood_footprint(usages)
    assert _at(table, "total_kgco2e", "mean_kgco2e") == pytest.approx(6700)


def test_read_ngc_results_rule_names_and_checks(tmp_path: Path) -> None:
    path = tmp_path / "ngc.csv"
    path.write_text(
        "respondent_id,alimentation,transport,logement,divers,services sociétaux,"
        "transport . avion,divers . numérique\n"
        "r1,2046,1997,1659,1187,1398,418,194\n",
        encoding="utf-8",
    )
    results = read_ngc_results(path)
    assert _at(results, "r1", "total") == pytest.approx(8287)  # summed: the file has no total
    assert np.isnan(_at(results, "r1", "transport_voiture"))
    usages = ngc_usage_footprints(results)
    assert np.isnan(_at(usages, "r1", "transportation_mode_kgco2e"))
    assert _at(usages, "r1", "digital_intensity_kgco2e") == 194
    # the answers of qet_geo.surveys.ngc.read_ngc map the same way
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        from_io = ngc_usage_footprints(read_ngc(path).answers)
    pd.testing.assert_frame_equal(from_io, usages, check_dtype=False, check_index_type=False)

    no_id = tmp_path / "no_id.csv"
    no_id.write_text("bilan,transport\n9000,2000\n7000,1500\n", encoding="utf-8")
    with pytest.warns(QetGeoWarning, match="no respondent identifier"):
        numbered = read_ngc_results(no_id)
    assert list(numbered.index) == ["1", "2"]

    off = tmp_path / "off.csv"
    off.write_text(
        "id,bilan,alimentation,transport,logement,divers,services sociétaux\n"
        "x,9000,2000,2000,1700,1200,1400\n",
        encoding="utf-8",
    )
    with pytest.warns(QetGeoWarning, match="differ from the sum"):
        read_ngc_results(off)

    negative = tmp_path / "negative.csv"
    negative.write_text("id,bilan\nx,-5\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="non-negative") as err:
        read_ngc_results(negative)
    assert "positifs" in err.value.message_fr

    nothing = tmp_path / "nothing.csv"
    nothing.write_text("id,viande,voiture\n1,2,3\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="neither a total nor the NGC categories"):
        read_ngc_results(nothing)
    with pytest.raises(InputFileError):
        read_ngc_results(tmp_path / "missing.csv")


def test_read_ngc_results_is_read_ngc_as_a_frame(tmp_path: Path) -> None:
    """One reader: the frame holds read_ngc's answers; warnings point at the caller."""
    path = tmp_path / "ngc.tsv"
    path.write_text(
        "simulation_id\tcode\tEmpreinte totale (t)\tAlimentation\tTransport (kg)\t"
        "Avion (kg)\tVêtements\n"
        "s1\tc1\t8,3\t2000\t2000\t2500\t300\n"
        "s2\tc2\t5,1\t1200\t600\t0\t200\n",
        encoding="utf-8",
    )
    with pytest.warns(QetGeoWarning) as caught:
        results = read_ngc_results(path, id_column="code")
    messages = " | ".join(str(w.message) for w in caught)
    assert "transport_avion larger than transport" in messages
    assert "['simulation_id'] were not recognised" in messages  # id_column chose "code"
    assert {Path(w.filename).name for w in caught} == {"test_footprint.py"}
    assert list(results.index) == ["c1", "c2"]
    assert list(results.columns) == list(NGC_COLUMNS)
    assert (results.dtypes == "float64").all()
    assert _at(results, "c1", "total") == pytest.approx(8300)  # "(t)"
    assert _at(results, "c1", "alimentation") == 2000  # no unit: kilograms
    assert _at(results, "c1", "transport_avion") == 2500  # above transport: kept, warned
    assert np.isnan(_at(results, "c1", "logement"))
    assert results.attrs["columns"] == {
        "total": "Empreinte totale (t)",
        "alimentation": "Alimentation",
        "transport": "Transport (kg)",
        "transport_avion": "Avion (kg)",
        "divers_textile": "Vêtements",
    }
    assert results.attrs["source"] == str(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        read = read_ngc(path, id_column="code", errors="raise")
    np.testing.assert_array_equal(
        results[list(read.answers.columns)].to_numpy(),
        read.answers.to_numpy(dtype=float, na_value=np.nan),
    )
    with pytest.raises(ValidationError, match="'nope' is not in"):
        read_ngc_results(path, id_column="nope")
    with pytest.raises(ValidationError, match="unit must be"):
        read_ngc_results(path, unit="g")  # type: ignore[arg-type]


def test_read_ngc_results_units_without_headers(tmp_path: Path) -> None:
    """With no unit in the headers, "auto" reads a median total below 100 as tonnes."""
    path = tmp_path / "ngc.csv"
    path.write_text("id,bilan,transport\na,8.3,2.0\nb,9.1,2.5\n", encoding="utf-8")
    assert _at(read_ngc_results(path), "a", "total") == pytest.approx(8300)
    assert _at(read_ngc_results(path, unit="kg"), "a", "total") == pytest.approx(8.3)
    assert _at(read_ngc_results(path, unit="t"), "b", "transport") == pytest.approx(2500)
