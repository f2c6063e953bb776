"""Isochrones that reach the extract's edge say so (issue 14), on Saudron's large rural extract."""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from qet_geo.cli.main import app
from qet_geo.constraints.access import isochrones_from_extract
from qet_geo.errors import ValidationError
from qet_geo.inputs.osm import read_osm
from qet_geo.inputs.territory import territory_from_bounds
from qet_geo.network.graph import build_network
from qet_geo.network.isochrone import (
    BORDER_MARGIN_M,
    DEFAULT_ISOCHRONE_BUFFER_M,
    isochrones,
    minutes_to_border,
)
from tests.conftest import shared

SAUDRON = shared("osm", "saudron_rural.osm.gz")
# street nodes of Saudron's extract (5.253..5.337 E, 48.497..48.581 N): 3 km from its edge, and
# 150 m inside its western edge
MIDDLE = (5.29654, 48.53881)
NEAR_EDGE = (5.25552, 48.55083)


@pytest.fixture(scope="module")
def saudron():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extract is cut at its border
        data = read_osm(SAUDRON)
    nodes, edges = data.graph("walk")
    return build_network(nodes, edges, mode="walk"), territory_from_bounds(data.bounds).geometry


def _points(*lonlat):
    return gpd.GeoSeries(shapely.points(np.asarray(lonlat)), crs=4326).to_crs(2154)


def test_isochrone_reaching_the_edge_is_flagged(saudron):
    net, extent = saudron
    shapes = isochrones(net, _points(MIDDLE, NEAR_EDGE), minutes=(5, 15), extent=extent)
    minutes = minutes_to_border(net, _points(MIDDLE, NEAR_EDGE), extent)
    flags = shapes["reaches_border"]
    assert flags.tolist() == [False, False, True, True]
    assert minutes.iloc[0] > 15 and minutes.iloc[1] <= 5
    inner = shapely.buffer(extent, -BORDER_MARGIN_M)
    band = shapely.difference(extent, inner)
    for _, row in shapes.iterrows():
        if row["reaches_border"]:  # its streets enter the band
            assert shapely.intersects(row.geometry, band)
        else:  # its streets stay inside: the polygon is their band of buffer_m
            assert shapely.within(row.geometry, inner.buffer(DEFAULT_ISOCHRONE_BUFFER_M + 1))
    # the flag follows the time to the border, one time after another
    for (point, t), flag in flags.items():
        assert flag == (minutes.iloc[point] <= t)
    # without an extent, no flag
    assert "reaches_border" not in isochrones(net, _points(MIDDLE), extent=None).columns


def test_minutes_to_border_checks_its_inputs(saudron):
    net, extent = saudron
    with pytest.raises(ValidationError):
        minutes_to_border(net, _points(MIDDLE), shapely.Point(0, 0))
    with pytest.raises(ValidationError):
        minutes_to_border(net, _points(MIDDLE), extent, margin_m=-1)
    # a point in the band is at the border already; the limit gives NaN beyond it
    band_point = minutes_to_border(net, _points((5.25400, 48.55083)), extent)
    assert band_point.iloc[0] == 0.0
    far = minutes_to_border(net, _points(MIDDLE), extent, limit_min=5)
    assert np.isnan(far.iloc[0])


def test_extract_isochrones_and_cli_say_they_reach_the_edge(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shapes = isochrones_from_extract(SAUDRON, [MIDDLE, NEAR_EDGE], minutes=(10,))
    assert shapes["reaches_border"].tolist() == [False, True]
    out = tmp_path / "iso.geojson"
    at = ";".join(f"{lon},{lat}" for lon, lat in (MIDDLE, NEAR_EDGE))
    runner = CliRunner()
    result = runner.invoke(
        app, ["isochrone", str(SAUDRON), "--at", at, "--minutes", "10", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "(atteint le bord de l'extrait)" in result.output
    assert "peuvent être plus petites qu'en réalité" in result.output
    written = json.loads(out.read_text())
    assert [f["properties"]["reaches_border"] for f in written["features"]] == [False, True]
