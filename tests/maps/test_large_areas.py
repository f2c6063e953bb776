"""Maps of large areas: homes drawn as 200 m cells above the threshold, privately, in bounded pages.

The homes are the real Lorient centre's (their walking access, as ``qet diagnose`` computes it),
repeated side by side with shifted geometry to make a large area: every value is real, only the
area grows. Below :data:`maps._cells.AGGREGATE_ABOVE_HOMES` a map draws one point per home, as
before; above it, the cells that :func:`qet_geo.privacy.safe_aggregate` publishes.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import maps
from maps._cells import AGGREGATE_ABOVE_HOMES, aggregate_homes
from qet_geo.privacy import MIN_RESPONDENTS, is_protected, safe_aggregate
from tests.maps.test_maps import (
    assert_offline,
    feature_collections,
    layers,  # noqa: F401 (fixture)
    number,
    readable,
    render,
    tooltip_pairs,
)

REPO = Path(__file__).resolve().parents[2]
LABEL = "Minutes jusqu'au commerce alimentaire le plus proche"


@pytest.fixture(scope="module")
def homes(layers: Any) -> gpd.GeoDataFrame:  # noqa: F811
    """Every home of Lorient centre with its walking access (about 1 000)."""
    from qet_geo.constraints.access import neighbourhood_access

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return neighbourhood_access(layers)


def tiled(frame: gpd.GeoDataFrame, k: int, *, gap_m: float = 100.0) -> gpd.GeoDataFrame:
    """``frame`` repeated k×k side by side (Lambert-93 shifts by its extent plus a gap)."""
    left, bottom, right, top = frame.total_bounds
    dx, dy = right - left + gap_m, top - bottom + gap_m
    copies = []
    for i in range(k):
        for j in range(k):
            geoms = shapely.transform(
                frame.geometry.to_numpy(), lambda xy, s=np.array([i * dx, j * dy]): xy + s
            )
            copies.append(
                frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs))
            )
    return gpd.GeoDataFrame(pd.concat(copies, ignore_index=True), crs=frame.crs)


@pytest.fixture(scope="module")
def large(homes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Lorient centre 3×3: about 9 400 homes, above the threshold."""
    out = tiled(homes, 3)
    assert len(out) > AGGREGATE_ABOVE_HOMES
    return out


@pytest.fixture(scope="module")
def large_html(large: gpd.GeoDataFrame) -> str:
    return render(maps.make_constraints_map(large, "food_shop_min", tooltip=["score_15min"]))


def _drawn(html: str) -> dict[str, Any]:
    (layer,) = [c for c in feature_collections(html) if LABEL in c["labels"].values()]
    return layer


def test_a_large_area_is_drawn_as_200m_cells(
    large: gpd.GeoDataFrame, large_html: str, homes: gpd.GeoDataFrame
) -> None:
    layer = _drawn(large_html)
    kinds = {f["geometry"]["type"] for f in layer["features"]}
    assert kinds <= {"Polygon", "MultiPolygon"}, kinds  # cells, not one point per home
    cells = aggregate_homes(large, ["food_shop_min"])
    assert len(layer["features"]) == len(cells) < len(large) / 20
    # each cell's tooltip: what the zone is, its homes, the weighted mean of its homes
    tips = [tooltip_pairs(layer, f) for f in layer["features"]]
    assert sum(number(t["Logements"]) for t in tips) == len(large)
    assert {t["Zone"] for t in tips} == {
        "carreau de 200 m",
        "regroupement de carreaux (secret statistique)",
    }
    shown = sorted(number(t[LABEL]) for t in tips if t[LABEL] != "non disponible")
    assert shown == pytest.approx(sorted(cells["food_shop_min"].dropna()), abs=0.051)
    # the caption says it shows cells and why; the legend's swatches are squares
    text = readable(large_html)
    assert "Carreaux de 200 m : au-delà de 4\u202f000 logements" in text
    assert "secret statistique" in text
    assert_offline(large_html)
    assert "CRS3035RES" not in large_html  # no cell id in the page


def test_below_the_threshold_homes_stay_points(homes: gpd.GeoDataFrame) -> None:
    html = render(maps.make_constraints_map(homes, "food_shop_min"))
    layer = _drawn(html)
    assert len(layer["features"]) == len(homes)
    assert {f["geometry"]["type"] for f in layer["features"]} == {"Point"}
    assert "Carreaux de 200 m" not in readable(html)
    assert "Logements" not in layer["labels"].values()


def test_the_caption_is_in_english_too(large: gpd.GeoDataFrame, layers: Any) -> None:  # noqa: F811
    html = readable(render(maps.make_constraints_map(large, "food_shop_min", lang="en")))
    assert "200 m cells: above 4,000 homes" in html
    layer = [c for c in feature_collections(html) if "Homes" in c["labels"].values()]
    assert layer, "the cells' tooltips in English"
    big = {"buildings": tiled(layers.layers["buildings"], 3)}
    assert "Simplified basemap" in readable(render(maps.make_basemap(big, lang="en")))


def test_cells_are_weighted_means_of_their_homes(large: gpd.GeoDataFrame) -> None:
    """Cells that pool nothing hold the population-weighted mean of their homes, exactly."""
    from qet_geo.constraints.access import zone_indicators

    weighted = large.assign(weight=np.random.default_rng(0).integers(1, 40, len(large)))
    cells = aggregate_homes(weighted, ["food_shop_min", "score_15min"])
    direct = zone_indicators(weighted, indicators=["food_shop_min", "score_15min"])
    alone = cells[~cells["merged"]]
    assert len(alone) > 50
    for column in ("food_shop_min", "score_15min"):
        np.testing.assert_allclose(
            alone[column], direct.loc[alone.index, column], rtol=1e-12, equal_nan=True
        )
    assert (alone["n_respondents"] == direct.loc[alone.index, "homes"]).all()
    # a pooled zone's mean is the weighted mean over every home it pools
    from qet_geo.inputs.census import point_to_cell_id

    pooled = cells[cells["merged"]].iloc[0]
    inside = weighted[weighted.geometry.within(pooled.geometry.buffer(0.01))]
    assert len(inside) == pooled["n_respondents"]
    ok = inside["food_shop_min"].notna()
    expected = np.average(inside.loc[ok, "food_shop_min"], weights=inside.loc[ok, "weight"])
    assert pooled["food_shop_min"] == pytest.approx(expected, rel=1e-12)
    assert point_to_cell_id(inside.geometry).nunique() > 1


def test_cells_follow_the_privacy_rules(large: gpd.GeoDataFrame) -> None:
    """No zone of 1 to 10 homes, none outlining a small cell; the same zones as safe_aggregate."""
    from qet_geo.inputs.census import point_to_cell_id

    # three homes alone in a 200 m cell of a block of the area, and one dominating a sum
    extra = large.iloc[:3].copy()
    extra["geometry"] = gpd.points_from_xy(
        [large.total_bounds[0] - 150.0] * 3, [large.total_bounds[1] + 50.0] * 3, crs=large.crs
    )
    data = pd.concat([large, extra], ignore_index=True)
    data = gpd.GeoDataFrame(data, crs=large.crs)
    cells = aggregate_homes(data, ["food_shop_min"])
    assert is_protected(cells)
    assert (cells["n_respondents"] >= MIN_RESPONDENTS).all()
    assert cells["n_respondents"].sum() == len(data)  # nothing suppressed here, every home drawn
    small = point_to_cell_id(extra.geometry).iloc[0]
    assert small not in cells.index  # pooled into a larger zone
    holder = cells[cells.geometry.contains(extra.geometry.iloc[0])]
    assert len(holder) == 1 and holder["merged"].iloc[0] and holder["n_respondents"].iloc[0] >= 11
    # zones never overlap
    geoms = cells.geometry.to_numpy()
    pairs = shapely.STRtree(geoms).query(geoms, predicate="overlaps")
    assert pairs.shape[1] == 0
    # the same zones, counts and means as one safe_aggregate call on the whole area, but for the
    # last resort (a block's leftover of 1 to 10 homes merged into the nearest zone: across
    # blocks in one call, within its block here)
    frame = pd.DataFrame({"cell_id": point_to_cell_id(data.geometry).to_numpy()})
    value = data["food_shop_min"].to_numpy(dtype=float)
    frame["_p0"], frame["_w0"] = value, np.where(np.isfinite(value), 1.0, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = safe_aggregate(frame, zone="cell_id", values=["_p0", "_w0"])
    assert list(whole.index) == list(cells.index)
    same = (whole["n_respondents"] == cells["n_respondents"]).to_numpy()
    assert same.mean() > 0.98 and (~same).sum() <= 2, (~same).sum()
    np.testing.assert_allclose(
        (whole["_p0_sum"] / whole["_w0_sum"])[same], cells["food_shop_min"][same], rtol=1e-12
    )
    gaps = whole[same].geometry.symmetric_difference(cells[same].geometry).area
    assert float(gaps.max()) < 1.0  # m², rounding of the set operations only


def test_page_size_is_bounded_and_does_not_grow_with_homes(
    large: gpd.GeoDataFrame, large_html: str, homes: gpd.GeoDataFrame
) -> None:
    """Four times the homes over the same area: at most one zone per 200 m cell, the same page.

    More homes per cell leave fewer cells to pool (a few more zones), never more zones than the
    area has cells; home by home, the page would grow 4 times.
    """
    from qet_geo.inputs.census import point_to_cell_id

    occupied = point_to_cell_id(large.geometry).nunique()
    denser = gpd.GeoDataFrame(pd.concat([large] * 4, ignore_index=True), crs=large.crs)
    html = render(maps.make_constraints_map(denser, "food_shop_min", tooltip=["score_15min"]))
    zones = (len(_drawn(large_html)["features"]), len(_drawn(html)["features"]))
    assert zones[0] <= zones[1] <= occupied
    assert len(html) < 1.15 * len(large_html)
    # home by home, the same area would be ~25 times bigger than the whole page
    one_by_one = render(maps.make_constraints_map(homes, "food_shop_min", tooltip=["score_15min"]))
    assert len(html) < len(one_by_one) * len(denser) / len(homes) / 20


def test_basemap_of_a_large_area_keeps_main_roads_and_no_buildings(layers: Any) -> None:  # noqa: F811
    frames = {n: layers.layers[n] for n in ("buildings", "streets", "parks", "water")}
    k = 3
    big = {name: tiled(frame, k) for name, frame in frames.items()}
    big["territory"] = tiled(layers.layers["territory"], k)
    residential = int(big["buildings"]["residential"].sum())
    assert residential > AGGREGATE_ABOVE_HOMES
    small_html = readable(render(maps.make_basemap(frames)))
    big_html = readable(render(maps.make_basemap(big)))
    building_style = '"fillColor": "#ddd6ca"'
    assert building_style in small_html and building_style not in big_html
    name = re.search(r'"(Fond de carte simplifié [^"]*)"', big_html)
    assert name is not None and "4\\u202f000 logements" in name[1]
    assert name[1].endswith("grands axes, eau et parcs, sans les bâtiments)")
    assert len(big_html) < len(small_html)  # 9 times the area, a smaller page
    assert_offline(big_html)


def test_aggregated_text_is_escaped(large: gpd.GeoDataFrame) -> None:
    label = "<script>alert(1)</script> {{ 7*7 }}"
    html = render(maps.make_constraints_map(large, "food_shop_min", label=label))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in readable(html)
    assert "49" not in re.findall(r"qet-legend-title\">([^<]*)<", html)


def test_an_aggregated_page_draws_in_chromium(
    large: gpd.GeoDataFrame,
    layers: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The exhibition's map of a large area (cells on the lighter basemap) draws, cleanly."""
    from tests.browser import open_page

    frames = {n: tiled(layers.layers[n], 3) for n in ("buildings", "streets", "parks", "water")}
    m = maps.make_basemap(frames)
    maps.make_constraints_map(large, "food_shop_min", m=m)
    page = maps.save_map(m, tmp_path / "large.html")
    run = open_page(page, screenshot=tmp_path / "large.png")
    assert run.requests == [], run.requests
    assert run.console == [], run.console
    cells = len(aggregate_homes(large, ["food_shop_min"]))
    assert run.dom.count("leaflet-interactive") >= cells  # one path per drawn zone
    assert "<canvas" in run.dom  # the basemap
    assert "Carreaux de 200 m" in run.dom  # the legend's caption, shown
