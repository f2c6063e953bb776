"""Homes whose 15-minute reach comes to the extract's edge are flagged (issue 14).

On the four shared extracts, walk and bike: the flag of the access table is checked against an
independent computation (networkx shortest paths on the street graph, the border band drawn
with shapely), homes in the band are flagged, and a home in the middle of a large extract is not.
"""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
import pytest
import shapely
from shapely.ops import substring

from qet_geo.constraints.indicators import (
    ACCESS_INDICATORS,
    PROFILE_INDICATORS,
    REACHES_BORDER,
    SCORE_MIN,
    ZONE_INDICATORS,
)
from qet_geo.network.isochrone import BORDER_MARGIN_M
from qet_geo.network.snapping import snap
from qet_geo.pipeline import build_neighbourhood
from tests.conftest import shared

EXTRACTS = [
    "lorient_centre.osm.gz",
    "nantes_hypercentre.osm.pbf",
    "pont_de_veyle.osm.gz",
    "saudron_rural.osm.gz",
]
SAMPLE = 40  # homes checked against networkx per extract and mode
TOL = 1e-6


@pytest.fixture(scope="module")
def hoods():
    out = {}
    for name in EXTRACTS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # clipped extracts, homes far from any street
            out[name] = build_neighbourhood(shared("osm", name), modes=("walk", "bike"))
    return out


def _entry(geom: shapely.LineString, inner) -> float:
    """Fraction along ``geom`` where it first leaves ``inner`` (inf: never)."""
    if not inner.contains(shapely.Point(geom.coords[0])):
        return 0.0
    cut = geom.intersection(inner.boundary)
    if cut.is_empty:
        return np.inf
    return min(
        geom.project(shapely.Point(c), normalized=True) for c in shapely.get_coordinates(cut)
    )


def _reference_minutes(hood, mode: str, home_ids) -> dict:
    """Minutes from each home to the border band, with networkx (inf beyond 15 minutes)."""
    net = hood.networks[mode]
    edges = hood.layers.graphs[mode][1]
    inner = hood.layers.territory.geometry.buffer(-BORDER_MARGIN_M)
    per_m = net.flat_min_per_m  # no DEM: time is length at the flat speed
    graph = nx.MultiDiGraph()
    for (u, v, _), row in edges.iterrows():
        graph.add_edge(u, v, time=row["length"] * per_m, geom=row.geometry)
    homes = hood.access[mode].loc[home_ids]
    where = snap(net, homes.geometry)
    out = {}
    for home, row in where.iterrows():
        if row["off_network"]:
            out[home] = np.inf
            continue
        point = homes.geometry.loc[home]
        if not inner.contains(point):
            out[home] = 0.0
            continue
        u, v, f = row["u"], row["v"], float(row["fraction"])
        geom = edges.loc[(u, v, row["key"])].geometry
        start = row["snap_m"] * per_m
        g = graph.copy()
        length = edges.loc[(u, v, row["key"]), "length"]
        g.add_edge("home", v, time=(1 - f) * length * per_m, geom=substring(geom, f, 1, True))
        if g.has_edge(v, u):  # a two-way street: the way back to u
            back = substring(geom, 0, f, True).reverse()
            g.add_edge("home", u, time=f * length * per_m, geom=back)
        reached = nx.single_source_dijkstra_path_length(
            g, "home", cutoff=SCORE_MIN - start, weight="time"
        )
        best = np.inf
        for a, d in reached.items():
            for _, _, data in g.out_edges(a, data=True):
                frac = _entry(data["geom"], inner)
                if np.isfinite(frac):
                    best = min(best, start + d + frac * data["time"])
        out[home] = best
    return out


@pytest.mark.parametrize("mode", ["walk", "bike"])
@pytest.mark.parametrize("name", EXTRACTS)
def test_border_flag_matches_networkx(hoods, name, mode):
    hood = hoods[name]
    acc = hood.access[mode]
    assert acc[REACHES_BORDER].dtype == bool
    # the homes nearest the extract's centre and its edge, and others at random
    extent = hood.layers.territory.geometry
    to_edge = acc.geometry.distance(extent.boundary).sort_values()
    rng = np.random.default_rng(0)
    picks = {*to_edge.index[:5], *to_edge.index[-10:]}
    picks |= set(rng.choice(acc.index.to_numpy(), min(SAMPLE, len(acc)), replace=False))
    ids = sorted(picks)
    ref = _reference_minutes(hood, mode, ids)
    for home in ids:
        minutes = ref[home]
        if abs(minutes - SCORE_MIN) < TOL:
            continue  # a tie at the bound
        assert bool(acc.loc[home, REACHES_BORDER]) == (minutes <= SCORE_MIN), (home, minutes)
    # a home in the border band is flagged whenever it is on the network
    band = acc.geometry.distance(extent.boundary) < BORDER_MARGIN_M - 1
    on = ~acc["off_network"]
    assert acc.loc[band & on, REACHES_BORDER].all()


def test_home_in_the_middle_of_a_large_extract_is_not_flagged(hoods):
    # Saudron's extract is 6 km by 9 km: a 15-minute walk from its middle stays inside
    hood = hoods["saudron_rural.osm.gz"]
    walk = hood.access["walk"]
    centre = hood.layers.territory.geometry.centroid
    middle = walk.geometry.distance(centre).sort_values().index[:20]
    assert not walk.loc[middle, REACHES_BORDER].any()
    assert walk[REACHES_BORDER].any() and not walk[REACHES_BORDER].all()
    # a bike goes four times as far in the same time
    assert hood.access["bike"][REACHES_BORDER].sum() > walk[REACHES_BORDER].sum()


def test_border_flag_is_a_label_not_a_constraint(hoods):
    assert REACHES_BORDER in ACCESS_INDICATORS
    assert REACHES_BORDER not in PROFILE_INDICATORS and REACHES_BORDER not in ZONE_INDICATORS
    from qet_geo.analysis.homes import _indicator_columns
    from qet_geo.constraints.indicators import get_indicator

    entry = get_indicator(REACHES_BORDER)
    assert not entry.usages and not entry.profile and not entry.zone
    assert "bord de l'extrait" in entry.label.render("fr")
    assert "edge" in entry.label.render("en")
    # the link models read every numeric column but flags
    acc = hoods["nantes_hypercentre.osm.pbf"].access["walk"]
    assert REACHES_BORDER not in _indicator_columns(acc, what="access")


def test_qet_access_says_how_many_homes_reach_the_edge(hoods, tmp_path):
    import json

    from typer.testing import CliRunner

    from qet_geo.cli.main import app

    nantes = shared("osm", "nantes_hypercentre.osm.pbf")
    flagged = int(hoods["nantes_hypercentre.osm.pbf"].access["walk"][REACHES_BORDER].sum())
    assert flagged > 0
    out = tmp_path / "access.parquet"
    runner = CliRunner()
    result = runner.invoke(app, ["access", str(nantes), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["reaches_border"] == flagged
    text = runner.invoke(app, ["access", str(nantes), "--out", str(out)])
    assert text.exit_code == 0, text.output
    assert f"{flagged} logement(s) sur {summary['homes']} atteignent le bord" in text.output


def test_qet_layers_says_how_many_homes_reach_the_edge(hoods, tmp_path):
    import json

    from typer.testing import CliRunner

    from qet_geo.cli.main import app

    nantes = shared("osm", "nantes_hypercentre.osm.pbf")
    access = hoods["nantes_hypercentre.osm.pbf"].access
    runner = CliRunner()
    result = runner.invoke(app, ["layers", str(nantes), "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["reaches_border"] == {
        "homes": len(access["walk"]),
        "walk": int(access["walk"][REACHES_BORDER].sum()),
        "bike": int(access["bike"][REACHES_BORDER].sum()),
    }
    text = runner.invoke(app, ["layers", str(nantes), "--out", str(tmp_path)])
    assert text.exit_code == 0, text.output
    assert "atteignent le bord de l'extrait en 15 minutes" in text.output
