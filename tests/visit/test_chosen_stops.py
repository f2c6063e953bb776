"""Stops picked on a map (qet_geo.visit.plan.chosen_stops) and their visit on the real Lorient
extract: exactly the chosen stops, snapped to the walking network, in the order of least walking
time (checked against every order for a few stops); stops outside the neighbourhood, off the
streets, too many or too few are refused in French."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry.base import BaseGeometry

from qet_geo.errors import DataCoverageError, ValidationError
from qet_geo.inputs.territory import Territory
from qet_geo.pipeline import Neighbourhood, build_neighbourhood
from qet_geo.store.jobs import territory_from_geojson
from qet_geo.visit.order import route_cost
from qet_geo.visit.plan import MAX_CHOSEN_STOPS, chosen_stops, plan_visit
from tests.visit.conftest import brute_force, lonlat, minutes

OUTLINE = Path(__file__).resolve().parents[2] / "data" / "osm" / "lorient_centre.geojson"


@pytest.fixture(scope="module")
def outline() -> BaseGeometry:
    """The demonstration neighbourhood of Lorient centre, in Lambert-93 as the store keeps it."""
    return territory_from_geojson(json.loads(OUTLINE.read_text()))


@pytest.fixture(scope="module")
def hood(lorient_gz: Path, outline: BaseGeometry) -> Neighbourhood:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_neighbourhood(
            lorient_gz,
            territory=Territory(name="Lorient centre", geometry=outline, source="test"),
            modes=("walk",),
        )


def picks(hood: Neighbourhood, outline: BaseGeometry, k: int) -> list[tuple[float, float]]:
    """``k`` positions spread over the neighbourhood, each 8 m east of a street crossing of the
    main walking network, as (longitude, latitude): where a person would click."""
    net = hood.networks["walk"]
    nodes = np.flatnonzero(net.component == 0)
    inside = nodes[shapely.contains_xy(shapely.buffer(outline, -30), *net.node_xy[nodes].T)]
    chosen = inside[np.linspace(0, len(inside) - 1, k).round().astype(int)]
    return [lonlat(shapely.Point(x + 8.0, y)) for x, y in net.node_xy[chosen]]


def test_chosen_stops_are_numbered_in_the_order_picked(outline: BaseGeometry) -> None:
    stops = chosen_stops([(-3.36, 47.75), (-3.358, 47.747)], territory=outline)
    assert list(stops.index) == [1, 2]
    assert stops.crs.to_epsg() == 2154
    assert list(stops["name"]) == ["Arrêt 1", "Arrêt 2"]
    assert set(stops["reason"]) == {"choisi sur la carte"}
    back = stops.to_crs(4326)
    assert back.geometry.x.round(6).tolist() == [-3.36, -3.358]
    assert back.geometry.y.round(6).tolist() == [47.75, 47.747]
    english = chosen_stops([(-3.36, 47.75), (-3.358, 47.747)], lang="en")
    assert list(english["name"]) == ["Stop 1", "Stop 2"]


def test_chosen_stops_refuse_what_cannot_be_visited(outline: BaseGeometry) -> None:
    with pytest.raises(ValidationError) as one:
        chosen_stops([(-3.36, 47.75)], territory=outline)
    assert "de 2 à 12 (1 donné(s))" in one.value.localized("fr")
    with pytest.raises(ValidationError) as many:
        chosen_stops([(-3.36, 47.75)] * (MAX_CHOSEN_STOPS + 1), territory=outline)
    assert "de 2 à 12 (13 donné(s))" in many.value.localized("fr")
    with pytest.raises(ValidationError) as swapped:
        chosen_stops([(-3.36, 47.75), (200.0, 47.75), (-3.36, 95.0)])
    assert "Arrêt(s) 2, 3 :" in swapped.value.localized("fr")
    # the third is in Lorient, outside the neighbourhood (west of its outline)
    with pytest.raises(DataCoverageError) as outside:
        chosen_stops([(-3.36, 47.75), (-3.358, 47.747), (-3.37, 47.75)], territory=outline)
    assert outside.value.localized("fr") == (
        "Arrêt(s) 3 hors du quartier : placez chaque arrêt à l'intérieur de son contour."
    )


def test_the_visit_goes_through_exactly_the_chosen_stops_snapped_to_the_streets(
    hood: Neighbourhood, outline: BaseGeometry
) -> None:
    clicked = picks(hood, outline, 5)
    stops = chosen_stops(clicked, territory=outline)
    visit = plan_visit(hood, stops=stops, loop=True)
    assert sorted(visit.stops.index) == [1, 2, 3, 4, 5]
    assert len(visit.dropped) == 0 and visit.method == "held-karp"
    # the stops are where they were clicked; the walks start and end on the streets beside them
    for number, stop in visit.stops.geometry.items():
        assert stop.equals_exact(stops.geometry[number], 1e-6)
    ends = [shapely.get_point(g, 0) for g in visit.legs.geometry]
    for leg, end in zip(visit.legs.itertuples(), ends, strict=True):
        assert end.distance(stops.geometry[leg.from_id]) <= 8.0 + 1e-6
    # a loop comes back to the first stop picked
    assert visit.stops.index[0] == 1 and visit.legs["to_id"].iloc[-1] == 1


@pytest.mark.parametrize("loop", [True, False])
def test_the_order_of_chosen_stops_is_the_shortest_walk(
    hood: Neighbourhood, outline: BaseGeometry, loop: bool
) -> None:
    stops = chosen_stops(picks(hood, outline, 6), territory=outline)
    visit = plan_visit(hood, stops=stops, loop=loop)
    cost = minutes(hood.networks["walk"], stops)
    order = [int(i) - 1 for i in visit.stops.index]
    best = brute_force(cost, None, loop)
    assert route_cost(cost, order, loop=loop) == pytest.approx(best, rel=1e-9)
    assert visit.walk_min == pytest.approx(best, rel=1e-9)
    # and it is better than the order they were picked in (they were picked west to east)
    assert best <= route_cost(cost, list(range(6)), loop=loop) + 1e-9


def test_a_chosen_stop_off_the_streets_is_refused(
    hood: Neighbourhood, outline: BaseGeometry
) -> None:
    net = hood.networks["walk"]
    clicked = picks(hood, outline, 3)
    # a point of the neighbourhood as far as can be from any walkable street
    grid = np.stack(
        np.meshgrid(
            np.arange(outline.bounds[0], outline.bounds[2], 10.0),
            np.arange(outline.bounds[1], outline.bounds[3], 10.0),
        ),
        axis=-1,
    ).reshape(-1, 2)
    streets = shapely.union_all(net.edge_geometry)
    far = grid[np.argmax(shapely.distance(shapely.points(grid), streets))]
    gap = float(shapely.distance(shapely.Point(far), streets))
    assert gap > 20
    clicked.insert(1, lonlat(shapely.Point(far)))
    stops = chosen_stops(clicked, territory=outline)
    with pytest.raises(DataCoverageError) as off:
        plan_visit(hood, stops=stops, max_snap_m=gap / 2)
    text = off.value.localized("fr")
    assert "1 étape(s) à plus de" in text and "« Arrêt 2 »" in text
    # with a looser snap, the same stop is walked to from the nearest street
    assert sorted(plan_visit(hood, stops=stops, max_snap_m=gap + 5).stops.index) == [1, 2, 3, 4]
