"""The roadbook of a real visit: the streets walked, the walk back to the start of a loop, every
figure labelled in the reader's language, every name from the data escaped (issue 14).

The streets are checked against the OSM ways of the Lorient extract read independently (pyosmium
straight from the file, projected with pyproj), the return leg against networkx.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pytest
import shapely
from pyproj import Transformer

from qet_geo import i18n
from qet_geo.network.graph import build_network
from qet_geo.network.snapping import snap
from qet_geo.pipeline import Neighbourhood, build_neighbourhood
from qet_geo.visit._streets import street_label
from qet_geo.visit.export import (
    _render,
    figure_text,
    route_summary,
    to_geojson,
    to_roadbook,
    write_route,
)
from qet_geo.visit.plan import VisitRoute, plan_route, plan_visit
from tests.network.test_od import nx_costs
from tests.visit.conftest import cli_app, runner

_TO_L93 = Transformer.from_crs(4326, 2154, always_xy=True)
_WALKED_M = 25.0  # a way the walk follows over at least this length is a street it takes
_BUFFER_M = 0.5


@pytest.fixture(scope="module")
def hood(lorient_pbf: Path) -> Neighbourhood:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_neighbourhood(lorient_pbf, modes=("walk",))


@pytest.fixture(scope="module")
def visit(hood: Neighbourhood) -> VisitRoute:
    return plan_visit(hood, n=8, loop=True)


@pytest.fixture(scope="module")
def osm_ways(lorient_pbf: Path) -> gpd.GeoDataFrame:
    """Every highway way of the extract with its name, read with pyosmium alone."""
    names: list[str | None] = []
    lines: list[shapely.LineString] = []

    class Ways(osmium.SimpleHandler):  # type: ignore[misc]
        def way(self, w: osmium.osm.Way) -> None:
            if "highway" not in w.tags:
                return
            lonlat = [(n.lon, n.lat) for n in w.nodes if n.location.valid()]
            if len(lonlat) < 2:
                return
            x, y = _TO_L93.transform(*np.asarray(lonlat).T)
            lines.append(shapely.LineString(np.column_stack([x, y])))
            names.append(w.tags.get("name"))

    Ways().apply_file(str(lorient_pbf), locations=True)
    return gpd.GeoDataFrame({"name": names}, geometry=lines, crs=2154)


def _walked_names(ways: gpd.GeoDataFrame, leg: shapely.LineString, at_least_m: float) -> set[str]:
    """Names of the ways the leg runs along over ``at_least_m`` metres or more."""
    near = ways[ways.intersects(leg.buffer(_BUFFER_M)) & ways["name"].notna()]
    along = near.geometry.intersection(leg.buffer(_BUFFER_M, cap_style="flat")).length
    return set(near.loc[along >= at_least_m, "name"])


def _visible(page: str) -> str:
    """The text a reader sees: no style, no tags, entities decoded."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_streets_walked_are_the_osm_ways_the_legs_follow(visit, osm_ways, hood):
    assert len(visit.legs) == 8
    for _, leg in visit.legs.iterrows():
        runs = leg["streets"]
        # the runs cover the whole walk, in metres
        assert sum(r["length_m"] for r in runs) == pytest.approx(leg["length_m"], rel=1e-6)
        named = [r["name"] for r in runs if r["name"] is not None]
        # consecutive edges of one street are merged into one run
        labels = [_render(street_label(r), "fr") for r in runs]
        assert all(a != b for a, b in itertools.pairwise(labels)), labels
        # every street the walk clearly follows is named, and every name is one it follows
        followed = _walked_names(osm_ways, leg.geometry, _WALKED_M)
        assert followed <= set(named), (leg["from_id"], followed - set(named))
        touched = _walked_names(osm_ways, leg.geometry, 1.0)
        assert set(named) <= touched, (leg["from_id"], set(named) - touched)
        # in walking order: half-way along each run, the walk is on a way of that name (or,
        # for an unnamed way, on a way without a name); the first and last runs begin and end
        # with the walk from a stop to its street
        unnamed = osm_ways[osm_ways["name"].isna()]
        ends = visit.stops.geometry.reindex([leg["from_id"], leg["to_id"]])
        link = snap(hood.networks["walk"], ends)["snap_m"].to_numpy()
        done = 0.0
        for i, run in enumerate(runs):
            start = done + (link[0] if i == 0 else 0.0)
            end = done + run["length_m"] - (link[1] if i == len(runs) - 1 else 0.0)
            middle = leg.geometry.interpolate((start + end) / 2)
            done += run["length_m"]
            ways = unnamed if run["name"] is None else osm_ways[osm_ways["name"] == run["name"]]
            assert ways.distance(middle).min() < 1.0, (leg["from_id"], run)
    everything = {r["name"] for leg in visit.legs["streets"] for r in leg if r["name"]}
    assert {"Rue du Port", "Quai des Indes", "Rue de Liège"} <= everything
    # each stop's nearest named street is a street of the extract, near the stop
    for _, stop in visit.stops.iterrows():
        if stop["street"] is not None:
            ways = osm_ways[osm_ways["name"] == stop["street"]]
            assert ways.distance(stop.geometry).min() <= 80.0


def test_the_geojson_legs_carry_the_streets(visit):
    collection = to_geojson(visit)
    legs = [f["properties"] for f in collection["features"] if f["properties"]["kind"] == "leg"]
    assert len(legs) == len(visit.legs)
    for props, (_, leg) in zip(legs, visit.legs.iterrows(), strict=True):
        assert [s["name"] for s in props["streets"]] == [r["name"] for r in leg["streets"]]
        for street in props["streets"]:
            assert street["label"] and street["length_m"] > 0
            assert street["name"] is None or street["name"] in props["streets_text"]
    assert "Rue du Port" in " ".join(p["streets_text"] for p in legs)
    assert [p["is_return"] for p in legs] == [False] * (len(legs) - 1) + [True]
    english = to_geojson(visit, lang="en")
    texts = " ".join(
        f["properties"]["streets_text"]
        for f in english["features"]
        if f["properties"]["kind"] == "leg"
    )
    assert ", then " in texts and ", puis " not in texts
    json.dumps(collection)  # plain JSON


def test_the_loop_shows_its_return_leg(visit, hood, tmp_path):
    net = hood.networks["walk"]
    back = visit.return_leg
    assert back is not None and back["to_id"] == visit.stops.index[0]
    assert back["from_id"] == visit.stops.index[-1]
    # the network distance from the last stop to the first, by networkx on the same graph
    ends = gpd.GeoSeries([visit.stops.geometry.iloc[-1], visit.stops.geometry.iloc[0]], crs=2154)
    nx_m = nx_costs(net, ends, "length")
    assert back["length_m"] == pytest.approx(nx_m[0, 1], abs=1e-6)
    assert back["length_m"] == pytest.approx(back.geometry.length, rel=1e-6)
    assert visit.length_m == pytest.approx(visit.legs["length_m"].sum())
    summary = route_summary(visit)
    assert summary["loop"] and summary["return_m"] == pytest.approx(back["length_m"], abs=0.1)

    page = to_roadbook(visit)
    text = _visible(page)
    assert "Boucle : la visite revient à son point de départ." in text
    row = re.search(r'<tr class="return">(.*?)</tr>', page, flags=re.S)
    assert row is not None and "Retour au départ" in row.group(1)
    km = f"{back['length_m'] / 1000:.2f}".replace(".", ",")
    assert f"{km}\u00a0km" in html.unescape(row.group(1))
    # drawn on the sketch, dashed, and the sketch says so
    assert page.count('class="return"') == 2  # the table row and the dashed path
    assert "retour au départ en pointillés" in text
    one_way = plan_route(net, visit.stops.drop(columns=["order"]), loop=False)
    assert one_way.return_leg is None and route_summary(one_way)["return_m"] is None
    assert "Aller simple" in _visible(to_roadbook(one_way))
    assert 'class="return"' not in to_roadbook(one_way)


def test_the_map_draws_and_lists_the_return_leg(visit):
    from maps.route import make_route_map

    page = make_route_map(visit.stops, visit.legs, loop=True).get_root().render()
    back_min = f"{visit.return_leg['time_min']:.0f}"
    assert "Retour au départ" in page
    assert f"\\u21ba {back_min} min" in page  # the walk back's time on the map (JSON-escaped)
    assert f"<b>↺ Retour au départ</b> ({back_min} min · " in page  # and in the itinerary
    assert "en boucle : retour au départ" in page
    assert "10 8" in page  # the dashed walk back
    one_way = make_route_map(visit.stops, visit.legs.iloc[:-1]).get_root().render()
    assert "Retour au départ" not in one_way


def test_the_french_roadbook_labels_every_figure_in_french(visit):
    page = to_roadbook(visit, lang="fr")
    text = _visible(page)
    # no column name, key or OSM tag value
    raw = {
        *visit.stops.columns,
        *visit.legs.columns,
        *visit.stops.index,
        *(k for v in visit.stops["figures"] for k in v.split()),
        "footway",
        "residential",
        "service",
        "unclassified",
        "held-karp",
        "nan",
        "None",
    }
    words = set(re.findall(r"[\w-]+", text))
    assert not (raw - {"order", "name", "reason", "category", "priority", "source"}) & words
    assert not re.search(r"\b\w+_\w+\b", text)  # nothing like leg_min or homes_n5
    # no English: none of the visit's own texts in English appears in the French page
    english = i18n._english()
    for call in i18n._calls():
        if "qet_geo/visit/" not in call.path or not call.template:
            continue
        en = english.get(call.template, "")
        if call.fields or not en or en == call.template or len(en.split()) < 2:
            continue
        assert en not in text, en
    # figures: French decimals, durations, units, and a meaning for each
    assert re.search(r"\d,\d\d\u00a0km", text)
    assert re.search(r"\d\u00a0h\u00a0\d\d\u00a0min", text)
    for label in ("Longueur (m ou km)", "Temps de marche (h, min)", "Durée totale (h, min)"):
        assert label in text
    assert "Les chiffres cités dans « Pourquoi »" in text
    assert "logements à 5 min à pied (nombre)" in text
    assert "Nombre de logements d'où l'on rejoint ce lieu" in text
    # the streets of each leg, in order
    assert "↳ par Rue de la Poissonnière" in text or "↳ par " in text
    assert text.count("↳ par ") == len(visit.legs)
    # the stops' addresses or streets
    assert "Adresse la plus proche : 41 Rue du Port" in text

    english_page = _visible(to_roadbook(visit, lang="en"))
    assert "Loop: the visit comes back to its start." in english_page
    assert "Back to the start" in english_page and ", then " in english_page
    assert "Rue la plus proche" not in english_page and "puis" not in english_page


def test_names_from_the_data_are_escaped(visit, lorient, tmp_path):
    nodes, edges = lorient.graph("walk")
    evil = "<script>alert(1)</script> {{ 7*7 }} & Cie"
    edges = edges.assign(name=edges["name"].replace("Rue du Port", evil))
    net = build_network(nodes, edges, mode="walk")
    stops = visit.stops.assign(name=["<u>Halles</u>", "A & B", '"quoted"', "{% if %}"] * 2)
    visit = plan_route(net, stops.drop(columns=["order"]), loop=True)
    assert any(r["name"] == evil for leg in visit.legs["streets"] for r in leg)
    paths = write_route(visit, tmp_path / "v.gpx", title="<i>Quartier</i>")
    page = paths["html"].read_text(encoding="utf-8")
    assert "<script" not in page and "<u>" not in page and "<i>" not in page
    assert "{{" not in page and "{%" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert evil in _visible(page)
    assert json.loads(paths["geojson"].read_text(encoding="utf-8"))  # valid JSON still
    from maps.route import make_route_map

    rendered = make_route_map(visit.stops, visit.legs, loop=True).get_root().render()
    assert "<u>Halles</u>" not in rendered and "{% if %}" not in rendered


def test_a_reason_never_quotes_a_zero_count():
    assert figure_text("homes_n5", 0) is None
    assert figure_text("amenities_n5", 0.4) is None
    assert figure_text("homes_n5", float("nan")) is None
    assert figure_text("homes_n5", 1).render("fr") == "1 logement à 5 min à pied"
    assert figure_text("homes_n5", 1234).render("fr") == "1\u202f234 logements à 5 min à pied"
    assert figure_text("homes_n5", 1234).render("en") == "1,234 homes within a 5-minute walk"
    assert figure_text("amenities_n5", 2).render("fr") == "2 autres équipements à 5 min à pied"


def test_qet_route_prints_the_streets_and_the_return_leg(tmp_path, lorient_pbf):
    out = tmp_path / "visite.gpx"
    res = runner.invoke(
        cli_app(), ["route", str(lorient_pbf), "--auto", "5", "--loop", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "↺ Retour au départ (la visite est une boucle)" in res.stdout
    assert res.stdout.count("↳ ") == 5
    assert re.search(r"\d,\d\d\u00a0km", res.stdout)
    geo = json.loads(out.with_suffix(".geojson").read_text(encoding="utf-8"))
    legs = [f for f in geo["features"] if f["properties"]["kind"] == "leg"]
    assert len(legs) == 5 and legs[-1]["properties"]["is_return"]
    assert all(leg["properties"]["streets"] for leg in legs)


def test_the_network_keeps_each_edges_way_name_and_highway(lorient):
    """qet_geo.network.graph keeps the ``name`` and ``highway`` of every edge, in edge order."""
    nodes, edges = lorient.graph("walk")
    net = build_network(nodes, edges, mode="walk")
    expected = [x if isinstance(x, str) else None for x in edges["name"]]
    assert list(net.edge_name) == expected
    assert list(net.edge_highway) == list(edges["highway"])
    assert "Rue du Port" in set(net.edge_name)
    # osmnx's simplified edges hold a list where ways merged; no column gives None
    merged = edges.assign(name=[["Rue A", "Rue B"]] + [" "] * (len(edges) - 1))
    listed = build_network(nodes, merged.drop(columns="highway"), mode="walk")
    assert listed.edge_name[0] == "Rue A" and listed.edge_name[1] is None
    assert set(listed.edge_highway) == {None}


def test_the_gpx_gives_each_stops_address_or_street(visit, tmp_path):
    import gpxpy

    paths = write_route(visit, tmp_path / "v.gpx")
    gpx = gpxpy.parse(paths["gpx"].read_text(encoding="utf-8"))
    comments = [w.comment for w in gpx.waypoints]
    expected = [
        a if isinstance(a, str) else s
        for a, s in zip(visit.stops["address"], visit.stops["street"], strict=True)
    ]
    assert comments == expected and "41 Rue du Port" in comments


def test_a_long_rural_visit_suggests_a_time_budget(tmp_path):
    from tests.conftest import shared

    osm = str(shared("osm", "saudron_rural.osm.gz"))
    out = tmp_path / "v.gpx"
    res = runner.invoke(cli_app(), ["route", osm, "--auto", "8", "--loop", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "--max-minutes" in res.stdout and "↺ Retour au départ" in res.stdout
    budget = ["--max-minutes", "120", "--json"]
    res = runner.invoke(
        cli_app(), ["route", osm, "--auto", "8", "--loop", "--out", str(out), *budget]
    )
    summary = json.loads(res.stdout)
    assert summary["duration_min"] <= 120 and summary["dropped"]
    assert summary["return_m"] > 0
