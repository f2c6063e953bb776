"""Homes by isolated street fragments (issue 14), on the four shared extracts, walk and bike.

A home whose nearest street is a fragment cut off from the network (a clipped cul-de-sac, a
service road drawn alone, a oneway leading out of the extract) once got no distance and a
15-minute score of 0 while ``off_network`` said False. Now it joins the nearest street of a large
component within the snap limit, with the distances networkx gives on the graph, or is flagged
off the network: checked against an independent snapping (shapely, on the streets networkx finds
in the large strongly connected components) and networkx shortest paths.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import shapely

from qet_geo.constraints.access import NEAREST_CUTOFF_M, homes_from_buildings
from qet_geo.network.snapping import DEFAULT_MAX_SNAP_M
from qet_geo.pipeline import build_neighbourhood
from tests.conftest import shared
from tests.network.test_network import reference_graph, reference_nearest, routable_streets

EXTRACTS = [
    "lorient_centre.osm.pbf",
    "nantes_hypercentre.osm.pbf",
    "pont_de_veyle.osm.gz",
    "saudron_rural.osm.gz",
]
TOL = 1e-6


@pytest.fixture(scope="module")
def hoods():
    out = {}
    for name in EXTRACTS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # clipped extracts, homes far from any street
            out[name] = build_neighbourhood(shared("osm", name), modes=("walk", "bike"))
    return out


def _nearest_street(streets: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position in ``streets`` of the nearest one to each point, and its distance (shapely)."""
    dist = shapely.distance(streets[None, :], points[:, None])
    best = np.argmin(dist, axis=1)
    return best, dist[np.arange(points.size), best]


@pytest.mark.parametrize("mode", ["walk", "bike"])
@pytest.mark.parametrize("name", EXTRACTS)
def test_homes_by_a_fragment_join_the_network_or_are_flagged(hoods, name, mode):
    hood = hoods[name]
    edges = hood.layers.graphs[mode][1]
    acc = hood.access[mode]
    homes = homes_from_buildings(hood.layers.layers["buildings"])
    # the homes inside the territory (the extract's header box): buildings that cross its edge
    # are read, those whose point is outside are not homes of it
    homes = homes[shapely.intersects(hood.layers.territory.geometry, homes.geometry.to_numpy())]
    assert acc.index.equals(homes.index)
    pts = np.asarray(homes.geometry.array)
    geoms = np.asarray(edges.geometry.array)
    routable = routable_streets(edges)
    assert np.array_equal(routable, hood.networks[mode].snappable)

    # homes whose nearest street of all is a fragment: once stranded there
    _, d_all = _nearest_street(geoms, pts)
    _, d_main = _nearest_street(geoms[routable], pts)
    by_fragment = (d_all < d_main) & (d_all <= DEFAULT_MAX_SNAP_M)
    # the flag is the rule: farther than the snap limit from every street of the network
    flagged = d_main > DEFAULT_MAX_SNAP_M
    assert np.array_equal(acc["off_network"].to_numpy(), flagged)

    # no silent 0: every home on the network reaches something, or nothing is within the
    # cutoff by networkx either (checked below for the homes by a fragment)
    columns = [c for c in acc.columns if c.endswith("_m") and c != "snap_m"]
    dist = acc[columns].to_numpy()
    assert np.isnan(dist[flagged]).all()

    # the homes by a fragment, and a sample of the others: distances as networkx gives them
    # from the independent snapping
    rng = np.random.default_rng(14)
    others = rng.choice(np.flatnonzero(~flagged & ~by_fragment), 20, replace=False)
    check = np.concatenate([np.flatnonzero(by_fragment & ~flagged), others])
    edge_pos = np.flatnonzero(routable)
    lengths = shapely.length(geoms)

    def located(points: np.ndarray, prefix: str, role: str, keep: np.ndarray) -> dict:
        best, d = _nearest_street(geoms[routable], points)
        out = {}
        for i in np.flatnonzero(keep & (d <= DEFAULT_MAX_SNAP_M)):
            e = int(edge_pos[best[i]])
            f = float(shapely.line_locate_point(geoms[e], points[i])) / lengths[e]
            f = 0.0 if f < 1e-9 else 1.0 if f > 1 - 1e-9 else f
            out[f"{prefix}{i}"] = (e, f, float(d[i]), role)
        return out

    amenities = hood.layers.layers["amenities"]
    a_pts = np.asarray(amenities.geometry.representative_point().array)
    loc_h = located(pts, "h", "origin", np.isin(np.arange(pts.size), check))
    loc_p = located(a_pts, "p", "destination", np.ones(a_pts.size, dtype=bool))
    graph = reference_graph(edges, loc_h | loc_p)
    cats = [c[: -len("_m")] for c in columns if c[: -len("_m")] in set(amenities["category"])]
    names = {c: [k for k in loc_p if amenities["category"].iloc[int(k[1:])] == c] for c in cats}
    expected = reference_nearest(graph, [f"h{i}" for i in check], names)
    for c in cats:
        want = np.where(expected[c] <= NEAREST_CUTOFF_M, expected[c], np.nan)
        np.testing.assert_allclose(acc[f"{c}_m"].to_numpy()[check], want, atol=TOL, rtol=0)
    np.testing.assert_allclose(acc["snap_m"].to_numpy()[check], d_main[check], atol=TOL)


def test_the_shared_extracts_have_homes_by_fragments(hoods):
    """The check above is not vacuous: homes by a fragment, before and after (issue 14)."""
    n_by_fragment = 0
    for name in EXTRACTS:
        for mode in ("walk", "bike"):
            hood = hoods[name]
            edges = hood.layers.graphs[mode][1]
            homes = homes_from_buildings(hood.layers.layers["buildings"])
            pts = np.asarray(homes.geometry.array)
            geoms = np.asarray(edges.geometry.array)
            _, d_all = _nearest_street(geoms, pts)
            _, d_main = _nearest_street(geoms[routable_streets(edges)], pts)
            n_by_fragment += int(((d_all < d_main) & (d_all <= DEFAULT_MAX_SNAP_M)).sum())
    assert n_by_fragment >= 30
