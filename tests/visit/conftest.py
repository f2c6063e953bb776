"""Fixtures and helpers of the visit tests: the Lorient walking network and its named places."""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import typer
from pyproj import Transformer
from typer.testing import CliRunner

from qet_geo.cli.route import route
from qet_geo.network.graph import Network, build_network
from qet_geo.network.od import od_matrix
from qet_geo.network.snapping import snap
from qet_geo.visit.order import route_cost

TO_WGS84 = Transformer.from_crs(2154, 4326, always_xy=True)
runner = CliRunner()


# --------------------------------------------------------------------------------------------
# fixtures and helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def net(lorient) -> Network:
    nodes, edges = lorient.graph("walk")
    return build_network(nodes, edges, mode="walk")


@pytest.fixture(scope="module")
def net_all_streets(lorient) -> Network:
    """The walking network where every street fragment takes points, as before OSRM's rule:
    the only way to put a stop on an island and see it refused as unreachable."""
    nodes, edges = lorient.graph("walk")
    return build_network(nodes, edges, mode="walk", min_component_nodes=1)


@pytest.fixture(scope="module")
def places(lorient, net) -> gpd.GeoDataFrame:
    """Named amenities on the main part of the Lorient walking network."""
    amen = lorient.amenities[lorient.amenities["name"].notna()]
    amen = amen[~amen.index.duplicated()]
    pts = gpd.GeoDataFrame(
        {"name": amen["name"], "category": amen["category"]},
        geometry=amen.geometry.representative_point(),
        crs=amen.crs,
    )
    s = snap(net, pts)
    return pts[(s["component"] == 0) & ~s["off_network"]]


def brute_force(c: np.ndarray, start: int | None, loop: bool) -> float:
    k = len(c)
    if start is None:
        perms = itertools.permutations(range(k))
    else:
        rest = [i for i in range(k) if i != start]
        perms = ((start, *p) for p in itertools.permutations(rest))
    return min(route_cost(c, p, loop=loop) for p in perms)


def euclidean(rng: np.random.Generator, k: int, noise: float = 0.2) -> np.ndarray:
    xy = rng.random((k, 2))
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    return d * (1 + noise * rng.random((k, k)))  # asymmetric, like a slope one way


def minutes(net: Network, points: gpd.GeoSeries | gpd.GeoDataFrame) -> np.ndarray:
    """The visit's walking-time matrix: the network's own origin-destination matrix."""
    k = len(points)
    return od_matrix(net, points)["time_min"].to_numpy().reshape(k, k)


def cli_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test group."""

    app.command("route")(route)
    return app


def write_csv(path: Path, rows: list[tuple[float, float, str]], priority: bool = False) -> Path:
    frame = pd.DataFrame(rows, columns=["lon", "lat", "nom"])
    if priority:
        frame["priorite"] = np.arange(len(rows))[::-1] + 1
    frame.to_csv(path, index=False)
    return path


def lonlat(geom: shapely.Point) -> tuple[float, float]:
    lon, lat = TO_WGS84.transform(geom.x, geom.y)
    return float(lon), float(lat)
