"""Map builders on the real Lorient extract: content, offline pages, French text, privacy.

Offline rule tested here (the browser tests check the same pages in chromium): a page loads
nothing from another host. Outside URLs may appear only as ``<a href>`` links (followed on a
click, never loaded) to the OSM copyright page, the ODbL and Leafletjs.com, or as plain text
(an SVG namespace, a licence comment). Every ``src``/``srcset``, ``<link href>``, CSS
``url(...)``/``@import``, tile template and JS loader URL must be absent.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import maps
from maps._assets import LINK_HOSTS, link_host
from qet_geo.errors import CRSError, InputFileError, ValidationError
from qet_geo.privacy import DisclosureError, safe_aggregate
from tests.conftest import shared

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------------------------------
# fixtures: the Lorient neighbourhood, built once per module


@pytest.fixture(scope="module")
def layers(lorient_pbf: Path) -> Any:
    from qet_geo.inputs.territory import territory_from_file
    from qet_geo.layers import build_layers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_layers(
            lorient_pbf, territory=territory_from_file(REPO / "data/osm/lorient_centre.geojson")
        )


@pytest.fixture(scope="module")
def access(layers: Any) -> gpd.GeoDataFrame:
    """Walking access of 300 homes of the neighbourhood (a sample keeps the tests fast)."""
    from qet_geo.constraints.access import home_access, homes_from_buildings

    homes = homes_from_buildings(layers.layers["buildings"])
    inside = shapely.intersects(layers.territory.geometry, homes.geometry.to_numpy())
    homes = homes[inside].sample(300, random_state=0)
    nodes, edges = layers.graphs["walk"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = home_access(
            homes,
            nodes,
            edges,
            layers.layers["amenities"],
            transit_stops=layers.layers["transit_stops"],
            cycleways=layers.layers["cycleways"],
        )
    return gpd.GeoDataFrame(table, geometry=homes.geometry, crs=homes.crs)


def render(m: Any) -> str:
    return str(m.get_root().render())


def readable(html: str) -> str:
    """Return the page with JS string escapes undone (folium writes layer names as "\\u00e9")."""
    return maps._assets._unescape_js(html)


# --------------------------------------------------------------------------------------------------
# helpers reading the page back


def feature_collections(html: str) -> list[dict[str, Any]]:
    """Return every GeoJSON FeatureCollection embedded in the page, with its tooltip labels.

    Each item: ``features`` and ``labels`` (property -> tooltip label; ``tip`` holds a whole
    tooltip table when features have different labels).
    """
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    for match in re.finditer(r"(geo_json_[0-9a-f]+)_add\(", html):
        data, _ = decoder.raw_decode(html, match.end())
        labels: dict[str, str] = {}
        tip = re.search(
            re.escape(match[1])
            + r"\.bindTooltip\(.*?let fields = (\[.*?\]);\s*let aliases = (\[.*?\]);",
            html,
            re.S,
        )
        if tip:
            fields, aliases = json.loads(tip[1]), json.loads(tip[2])
            labels = dict(zip(fields, aliases or fields, strict=True))
        found.append({"features": data["features"], "labels": labels})
    return found


def tooltip_pairs(collection: dict[str, Any], feature: dict[str, Any]) -> dict[str, str]:
    """Return a feature's tooltip as label -> text."""
    props = feature["properties"]
    if "tip" in props:
        cells = re.findall(r"<th>(.*?)</th><td>(.*?)</td>", props["tip"])
        return dict(cells)
    return {
        collection["labels"][key]: value
        for key, value in props.items()
        if key in collection["labels"]
    }


def number(text: str) -> float:
    """Parse a French-formatted number ("1 234,5 t CO2e/an" -> 1234.5)."""
    match = re.search(r"-?[\d\u202f\u00a0 ]*\d(?:,\d+)?", text)
    assert match, text
    return float(re.sub(r"[\u202f\u00a0 ]", "", match[0]).replace(",", "."))


def assert_offline(html: str) -> None:
    assert maps.find_remote_resources(html) == []
    hosts = {link_host(url) for url in maps.find_links(html)}
    assert hosts <= LINK_HOSTS, hosts - LINK_HOSTS
    assert not re.search(r"<script[^>]*\ssrc=", html)
    assert not re.search(r"<link\b", html)
    assert "cdn.jsdelivr" not in html and "cdnjs" not in html and "code.jquery" not in html


# --------------------------------------------------------------------------------------------------
# offline pages


def test_find_remote_resources_flags_loads_and_spares_links_and_text() -> None:
    page = folium.Map().get_root().render()  # folium's defaults: CDNs and OSM tiles
    found = maps.find_remote_resources(page)
    assert any("cdn.jsdelivr.net/npm/leaflet" in url for url in found)
    assert any("tile.openstreetmap.org/{z}/{x}/{y}.png" in url for url in found)
    snippets = {
        '<img alt="x" src="https://example.org/a.png">': True,
        '<image xlink:href="//example.org/b.svg"/>': True,
        '<link rel="stylesheet" href="https://example.org/c.css">': True,
        "div { background: url('https://example.org/d.png') }": True,
        '@import "https://example.org/e.css";': True,
        'fetch("https://example.org/f.json")': True,
        'xhr.open("GET", "https://example.org/g.json")': True,
        'img.src = "https://example.org/h.png"': True,
        'var t = "https://{s}.tiles.example.org/{z}/{x}/{y}.png";': True,
        '<a href="https://www.openstreetmap.org/copyright">OSM</a>': False,
        'createElementNS("http://www.w3.org/2000/svg", "svg")': False,
        "/* see https://leafletjs.com */": False,
        '"\\u003cimg src=\\u0022https://example.org/i.png\\u0022\\u003e"': True,
    }
    for snippet, loads in snippets.items():
        assert bool(maps.find_remote_resources(snippet)) is loads, snippet
    assert maps.find_links('<a href="https://www.openstreetmap.org/copyright">x</a>') == [
        "https://www.openstreetmap.org/copyright"
    ]


def test_constraints_map_is_offline_and_self_contained(access: gpd.GeoDataFrame) -> None:
    m = maps.make_constraints_map(access, "food_shop_min")
    html = render(m)
    assert_offline(html)
    assert maps.is_offline(m)
    assert "leaflet 1.9.4, BSD-2-Clause licence" in html  # the vendored Leaflet, inlined
    assert "L.Icon.Default.mergeOptions" in html and "data:image/png;base64," in html
    assert "tile.openstreetmap.org" not in html
    assert "contributeurs OpenStreetMap<\\/a>, ODbL" in html
    assert "https://www.openstreetmap.org/copyright" in maps.find_links(html)


def test_online_map_uses_the_osm_tiles(access: gpd.GeoDataFrame) -> None:
    m = maps.make_constraints_map(access, "food_shop_min", offline=False)
    found = maps.find_remote_resources(render(m))
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in found
    assert not maps.is_offline(m)


def test_offline_map_refuses_to_render_a_tile_layer() -> None:
    m = maps.new_map((-3.37, 47.74, -3.35, 47.76))
    folium.TileLayer("OpenStreetMap").add_to(m)
    with pytest.raises(ValidationError, match=r"tile\.openstreetmap\.org") as err:
        render(m)
    assert "hors ligne" in err.value.message_fr


def test_offline_map_refuses_a_plugin_that_is_not_vendored() -> None:
    m = maps.new_map((-3.37, 47.74, -3.35, 47.76))
    folium.plugins.Fullscreen().add_to(m)
    with pytest.raises(ValidationError, match="not vendored"):
        render(m)


def test_vendored_assets_have_their_licences() -> None:
    static = REPO / "maps" / "static"
    for folder in ("leaflet", "leaflet.markercluster", "leaflet.sync"):
        assert (static / folder / "LICENSE").stat().st_size > 500
    assert "BSD" in (static / "leaflet" / "LICENSE").read_text()
    for asset in maps._assets.ASSETS:
        assert (static / asset.path).is_file(), asset.path
        assert maps.find_remote_resources((static / asset.path).read_text()) == []


# --------------------------------------------------------------------------------------------------
# constraints


def test_constraints_map_colours_every_home_with_a_french_legend(
    access: gpd.GeoDataFrame,
) -> None:
    before = access.copy()
    html = render(maps.make_constraints_map(access, "food_shop_min"))
    pd.testing.assert_frame_equal(access, before)  # input untouched
    assert "Minutes jusqu'au commerce alimentaire le plus proche</div>" in html  # the legend
    assert "0–5\u00a0min" in html and "≥ 30\u00a0min" in html
    (homes,) = [c for c in feature_collections(html) if len(c["features"]) == len(access)]
    label = "Minutes jusqu'au commerce alimentaire le plus proche"
    assert list(homes["labels"].values()) == [label]
    texts = [tooltip_pairs(homes, f)[label] for f in homes["features"]]
    missing = access["food_shop_min"].isna()
    assert texts.count("non disponible") == missing.sum()
    values = sorted(number(t) for t in texts if t != "non disponible")
    assert values == pytest.approx(sorted(access["food_shop_min"][~missing]), abs=0.051)
    # features carry the tooltip and style only: no home id, no other column
    assert {k for f in homes["features"] for k in f["properties"]} == {"t0", "_c", "_d"}


def test_constraints_map_in_english_and_with_own_bins(access: gpd.GeoDataFrame) -> None:
    html = render(maps.make_constraints_map(access, "score_15min", bins=[0, 0.5, 1.0], lang="en"))
    assert "15-minute city score" in html
    assert "0–50 %" in html.replace("\u00a0", " ")
    with pytest.raises(ValidationError) as err:
        maps.make_constraints_map(access, "score_15min", bins=[1, 0])
    assert "croissantes" in err.value.message_fr
    with pytest.raises(ValidationError) as err:
        maps.make_constraints_map(access, "food_shop_min", lang="de")
    assert "utilisez" in err.value.message_fr


def test_constraints_map_checks_its_input(access: gpd.GeoDataFrame) -> None:
    with pytest.raises(ValidationError, match="no_such_column"):
        maps.make_constraints_map(access, "no_such_column")
    with pytest.raises(CRSError):
        maps.make_constraints_map(access.set_crs(None, allow_override=True), "food_shop_min")
    with pytest.raises(ValidationError):
        maps.make_constraints_map(pd.DataFrame(access.drop(columns="geometry")), "food_shop_min")
    unprotected = access.assign(n_respondents=3)
    with pytest.raises(DisclosureError):
        maps.make_constraints_map(unprotected, "food_shop_min")


def test_layers_compose_on_one_map(layers: Any, access: gpd.GeoDataFrame) -> None:
    from qet_geo.constraints.access import isochrones_from_extract

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extract is clipped at its border
        iso = isochrones_from_extract(
            shared("osm", "lorient_centre.osm.pbf"), [(-3.3605, 47.7475)], minutes=(5, 10)
        )
    m = maps.make_basemap(layers)
    assert maps.make_constraints_map(access, "transit_stops_400m", m=m) is m
    assert maps.make_amenities_map(layers.layers["amenities"], m=m) is m
    assert maps.make_transit_map(layers.layers["transit_stops"], m=m) is m
    assert maps.make_cycleways_map(layers.layers["cycleways"], m=m) is m
    assert (
        maps.make_isochrones_map(
            iso, points=gpd.GeoSeries.from_xy([-3.3605], [47.7475], crs=4326), m=m
        )
        is m
    )
    html = render(m)
    assert_offline(html)
    text = readable(html)
    # one layer control, after every layer
    assert html.count("L.control.layers(") == 1
    assert html.rindex("L.control.layers(") > html.rindex("geo_json_")
    for label in (
        "Fond de carte (OpenStreetMap)",
        "Arrêts de transport en commun à moins de 400 m (nombre)",
        "Commerce alimentaire (12)",  # everyday food only (issue 14): was 24 with wine, tea...
        "Arrêts de transport en commun (33)",
        "Réseau cyclable",
        "bande cyclable",
        "Isochrones à pied",
        "≤ 10 min",
    ):
        assert label in text, label
    sizes = sorted(len(c["features"]) for c in feature_collections(html))
    assert sizes == sorted([len(access), 33, 53, 2, 1])
    # amenity markers: one per amenity, by category, clustered with the vendored plugin
    points = [json.loads(p) for p in re.findall(r"var markers = (\[\[.*?\]\])\.map", html)]
    assert sum(len(p) for p in points) == len(layers.layers["amenities"])
    assert "L.markerClusterGroup(" in html and "leaflet.markercluster 1.5.3" in html


def test_basemap_draws_the_extract_without_tiles(layers: Any) -> None:
    m = maps.make_basemap(layers)
    html = render(m)
    assert_offline(html)
    assert "Fond de carte (OpenStreetMap)" in readable(html)
    assert 'createPane("qetBasemap")' in html
    buildings = len(layers.layers["buildings"])
    polygons = len(re.findall(r'"type":"Feature","geometry":\{"type":"(?:Multi)?Polygon"', html))
    assert polygons >= buildings
    assert len(html) < 2_000_000  # simplified, rounded, attribute-free


def test_amenity_tooltips_escape_osm_text(layers: Any) -> None:
    amenities = layers.layers["amenities"].head(3).copy()
    amenities["name"] = ["<script>alert(1)</script>", "Café d'en bas", None]
    html = render(maps.make_amenities_map(amenities, cluster=False))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --------------------------------------------------------------------------------------------------
# profiles: privacy on every output path


@pytest.fixture(scope="module")
def respondents(layers: Any) -> gpd.GeoDataFrame:
    """Synthetic answers, most of them packed into a few cells, some cells with 1 to 10."""
    from qet_geo.analysis.footprint import su_footprints
    from qet_geo.surveys.synthetic import synthesize_answers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        answers = synthesize_answers(layers, 160, seed=7)
    cells = answers["cell_id"].value_counts().index.tolist()
    sizes = [70, 30, 12, 9, 5, 3, 1]  # 12: one profile only (dominance), then 9, 5, 3, 1
    assigned: list[str] = []
    for cell, size in zip(cells, sizes, strict=False):
        assigned += [cell] * size
    assigned += list(answers["cell_id"].iloc[len(assigned) :])
    answers["cell_id"] = assigned
    answers["profile"] = answers["transportation_mode"].astype(int) - 1
    answers.iloc[100:112, answers.columns.get_loc("profile")] = 2  # the cell of 12: all car
    answers["total_kgco2e"] = su_footprints(answers)["total_kgco2e"]
    answers.attrs["small_cells"] = cells[3:7]
    answers.attrs["one_profile_cell"] = cells[2]
    return answers


def test_profiles_map_shows_no_cell_of_1_to_10_respondents(
    respondents: gpd.GeoDataFrame,
) -> None:
    counts = respondents["cell_id"].value_counts()
    assert ((counts >= 1) & (counts <= 10)).any()  # the test data has small cells
    m = maps.make_profiles_map(respondents, labels={0: "Marche et vélo", 2: "Voiture"})
    html = render(m)
    assert_offline(html)
    collections = feature_collections(html)
    assert collections
    published = 0
    for collection in collections:
        for feature in collection["features"]:
            tip = tooltip_pairs(collection, feature)
            n = number(tip["Répondants"])
            assert n >= 11, tip
            shares = [
                number(v) for k, v in tip.items() if k.startswith(("Profil", "Marche", "Voi"))
            ]
            assert shares and max(shares) < 100, tip  # no cell where one profile is 100 %
            assert set(feature["properties"]) <= {"t0", "t1", "t2", "t3", "t4", "t5", "_c", "_d"}
            published += 1
    table = safe_aggregate(
        pd.DataFrame(respondents[["cell_id", "profile", "total_kgco2e"]]),
        values=["total_kgco2e"],
        profile="profile",
    )
    layers_drawn = 1 + respondents["profile"].nunique()
    assert published == layers_drawn * len(table)
    assert sorted(
        number(tooltip_pairs(collections[0], f)["Répondants"]) for f in collections[0]["features"]
    ) == sorted(table["n_respondents"])
    # no cell id, respondent id or home location anywhere in the page
    for cell in respondents["cell_id"].unique():
        assert cell not in html
    assert "SYN-0" not in html
    homes = respondents.geometry.to_crs(4326)
    for x, y in zip(homes.x.round(6), homes.y.round(6), strict=True):
        assert f"[{x}, {y}]" not in html and f"[{x},{y}]" not in html
    for label in ("Empreinte moyenne totale", "Part du profil « Voiture »", "secret statistique"):
        assert label in readable(html), label


def test_profiles_map_accepts_only_protected_tables(respondents: gpd.GeoDataFrame) -> None:
    table = safe_aggregate(pd.DataFrame(respondents[["cell_id", "profile"]]), profile="profile")
    html = readable(render(maps.make_profiles_map(table, footprint=None, labels={1: "<i>x</i>"})))
    assert "Part du profil « Profil 1 »" in html
    assert "<i>x</i>" not in html and "&lt;i&gt;x&lt;/i&gt;" in html  # labels are text, not HTML
    unmarked = gpd.GeoDataFrame(table.copy())
    unmarked.attrs = {}
    with pytest.raises(ValidationError):  # not respondents either: refused, never drawn
        maps.make_profiles_map(unmarked, footprint=None)


def test_profiles_map_refuses_what_cannot_be_published(
    respondents: gpd.GeoDataFrame,
) -> None:
    few = respondents.head(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValidationError) as err:
            maps.make_profiles_map(few)
    assert "11 répondants" in err.value.message_fr
    with pytest.raises(ValidationError, match="profile"):
        maps.make_profiles_map(respondents.drop(columns="profile"))


# --------------------------------------------------------------------------------------------------
# route, national, before/after


def _route(layers: Any) -> tuple[gpd.GeoDataFrame, gpd.GeoSeries]:
    amenities = layers.layers["amenities"]
    rows = [amenities[amenities["category"] == c].iloc[0] for c in ("market", "food_shop", "park")]
    stops = gpd.GeoDataFrame(rows, crs=amenities.crs).reset_index(drop=True)
    stops["order"] = [1, 2, 3]
    stops["name"] = ["Halles", "Épicerie", "Jardin"]
    stops["reason"] = ["marché : alimentation durable", "vrac", "parc"]
    stops["leg_min"] = [np.nan, 6.0, 9.0]
    path = gpd.GeoSeries([shapely.LineString(list(stops.geometry))], crs=stops.crs)
    return stops, path


def test_route_map_numbers_the_stops_and_gives_leg_times(layers: Any) -> None:
    stops, path = _route(layers)
    shuffled = stops.iloc[[2, 0, 1]]
    html = render(maps.make_route_map(shuffled, path))
    assert_offline(html)
    html = readable(html)
    for number_html in ("<div>1</div>", "<div>2</div>", "<div>3</div>"):
        assert number_html in html
    assert "<div>6 min</div>" in html and "<div>9 min</div>" in html
    assert "Visite du quartier" in html and "3 arrêts, 15 min de marche" in html
    assert html.index("<b>Halles</b>") < html.index("<b>Épicerie</b>") < html.index("<b>Jardin</b>")
    assert "Pourquoi : marché : alimentation durable" in html
    straight = readable(render(maps.make_route_map(stops, lang="en")))
    assert "3 stops, 15 min walking" in straight and '"dashArray": "8 6"' in straight


def test_route_map_checks_the_contract(layers: Any) -> None:
    stops, path = _route(layers)
    with pytest.raises(ValidationError, match="leg_min"):
        maps.make_route_map(stops.drop(columns="leg_min"), path)
    with pytest.raises(ValidationError, match="order"):
        maps.make_route_map(stops.assign(order=1), path)
    with pytest.raises(ValidationError, match="LineString"):
        maps.make_route_map(stops, gpd.GeoSeries(stops.geometry))


def test_national_map_hides_the_figures_of_small_neighbourhoods() -> None:
    regions = gpd.read_file(shared("census", "communes", "regions-version-simplifiee.geojson"))
    network = gpd.GeoDataFrame(
        {
            "name": ["Bel-Air", "Montesson centre", "Porte d'Orléans", "Petit quartier"],
            "n_respondents": [412, 603, 250, 7],
            "total_kgco2e_mean": [6300.0, 6600.0, 5900.0, 9876.0],
            "theme": ["alimentation durable", "mobilité", "énergie", "secret"],
        },
        geometry=gpd.points_from_xy([2.094, 2.150, 2.327, 4.87], [48.899, 48.910, 48.823, 46.26]),
        crs=4326,
    )
    html = render(maps.make_national_map(network, color="total_kgco2e_mean", background=regions))
    assert_offline(html)
    (points,) = [c for c in feature_collections(html) if len(c["features"]) == 4]
    tips = [tooltip_pairs(points, f) for f in points["features"]]
    small = next(t for t in tips if t["Quartier"] == "Petit quartier")
    assert set(small) == {"Quartier", "Chiffres"} and "moins de 11" in small["Chiffres"]
    assert "9,9" not in html and "secret</td>" not in html
    bel_air = next(t for t in tips if t["Quartier"] == "Bel-Air")
    assert (
        bel_air["Empreinte moyenne totale (t CO2e par an et par personne)"] == "6,3\u00a0t CO2e/an"
    )
    assert bel_air["Thème choisi"] == "alimentation durable"
    assert "Fond de carte" in readable(html) and "Quartiers du réseau (4)" in readable(html)


def test_national_map_withheld_rows_and_neighbourhoods_left_out() -> None:
    """Figures withheld upstream (the national table's 0 respondents) show as secret ones."""
    network = gpd.GeoDataFrame(
        {
            "name": ["Bel-Air", "Retenu"],
            "n_respondents": [412, 0],
            "total_kgco2e_mean": [6300.0, np.nan],
            "type": [1, None],
            "rank_total_kgco2e": [2.0, np.nan],
            "withheld": [False, True],
        },
        geometry=gpd.points_from_xy([2.094, 2.150], [48.899, 48.910]),
        crs=4326,
    )
    m = maps.make_national_map(
        network, color="total_kgco2e_mean", withheld="withheld", left_out=["Sans <contour>"]
    )
    html = render(m)
    assert_offline(html)
    (points,) = [c for c in feature_collections(html) if len(c["features"]) == 2]
    tips = {t["Quartier"]: t for t in (tooltip_pairs(points, f) for f in points["features"])}
    assert set(tips["Retenu"]) == {"Quartier", "Chiffres"}
    assert tips["Bel-Air"]["Type de quartier (typologie des contraintes)"] == "1"
    assert tips["Bel-Air"]["Rang de l'empreinte totale (1 = la plus faible)"] == "2"
    assert "withheld" not in {k.lower() for k in tips["Bel-Air"]}
    text = readable(html)
    assert "Hors carte, faute de territoire (1) : Sans &lt;contour&gt;." in text
    en = readable(render(maps.make_national_map(network, left_out=["X"], lang="en")))
    assert "Not on the map, for want of a territory (1): X." in en
    assert "Rank of the total footprint (1 = lowest)" in en
    with pytest.raises(ValidationError, match="nope"):
        maps.make_national_map(network, withheld="nope")


def test_compare_map_syncs_two_offline_maps(access: gpd.GeoDataFrame) -> None:
    after = access.assign(food_shop_min=access["food_shop_min"] * 0.5)
    dual = maps.make_compare_map(
        access, after, "food_shop_min", titles=("Avant 2024", "Après 2025")
    )
    html = render(dual)
    assert_offline(html)
    assert "leaflet.sync 0.2.4" in html and ".sync(" in html
    assert html.count("= L.map(") == 2
    assert "Avant 2024 : moyenne" in html and "Après 2025 : moyenne" in html
    # the same classes on both sides
    assert html.count("Minutes jusqu'au commerce alimentaire le plus proche</div>") == 2
    with pytest.raises(DisclosureError):
        maps.make_compare_map(access.assign(n_respondents=4), after, "food_shop_min")


def test_save_map_writes_one_self_contained_page(access: gpd.GeoDataFrame, tmp_path: Path) -> None:
    m = maps.make_constraints_map(access, "food_shop_min")
    path = maps.save_map(m, tmp_path / "carte.html")
    text = path.read_text(encoding="utf-8")
    assert path == tmp_path / "carte.html" and text.startswith("<!DOCTYPE html>")
    assert_offline(text)
    assert path.stat().st_mode & 0o044  # readable by others, like any page
    assert [p.name for p in tmp_path.iterdir()] == ["carte.html"]  # no temporary file left
    with pytest.raises(InputFileError) as err:
        maps.save_map(m, tmp_path / "missing" / "carte.html")
    assert "n'existe pas" in err.value.message_fr
