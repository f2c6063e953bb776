"""From an extract and a territory to layers, street networks and per-home access: the one chain.

Every caller that measures a neighbourhood (the ``qet`` commands, the diagnostic, the service's
analysis jobs, the national Dask runs, the visit route) goes through :func:`build_neighbourhood`,
or through :func:`measure_access` when it already holds the layers. The street network of a mode is
built once and shared by the access table and whatever comes after it (the visit route's stops
and paths), so ``qet access`` and ``qet route`` see the same graph.

Examples
--------
>>> hood = build_neighbourhood("lorient_centre.osm.pbf", modes=("walk",))  # doctest: +SKIP
>>> hood.access["walk"]["score_15min"].mean()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import geopandas as gpd

    from qet_geo.inputs.osm import OsmData
    from qet_geo.inputs.territory import Territory
    from qet_geo.layers import NeighbourhoodLayers
    from qet_geo.network.graph import Network

__all__ = ["Homes", "Mode", "Neighbourhood", "build_neighbourhood", "measure_access"]

Mode = Literal["walk", "bike"]
Homes = Literal["buildings", "cells"]
Progress = Callable[[str], None]


@dataclass
class Neighbourhood:
    """A neighbourhood measured: its layers, its street network and its access table per mode.

    Attributes
    ----------
    layers
        Every layer read from the files (:func:`qet_geo.layers.build_layers`).
    networks
        Mode → street network, built once from ``layers.graphs``.
    access
        Mode → per-home indicators (:func:`qet_geo.constraints.access.neighbourhood_access`),
        homes inside the territory only.
    """

    layers: NeighbourhoodLayers
    networks: dict[Mode, Network] = field(default_factory=dict)
    access: dict[Mode, gpd.GeoDataFrame] = field(default_factory=dict)


def build_neighbourhood(
    osm: str | PathLike[str] | OsmData,
    *,
    territory: Territory | None = None,
    census: str | PathLike[str] | None = None,
    iris_layer: str | PathLike[str] | None = None,
    dem: str | PathLike[str] | None = None,
    landcover: str | PathLike[str] | None = None,
    gtfs: str | PathLike[str] | None = None,
    modes: Sequence[Mode] = ("walk",),
    homes: Homes = "buildings",
    with_access: bool = True,
    street_modes: Sequence[Mode] = ("walk", "bike"),
    progress: Progress | None = None,
) -> Neighbourhood:
    """Read a neighbourhood's layers, then build its networks and access tables for ``modes``.

    Parameters
    ----------
    osm
        The OSM extract (.osm, .osm.gz, .osm.bz2, .osm.pbf), or the extract already read.
    territory
        The neighbourhood; the extract's own bounds when None.
    census, iris_layer, dem, landcover, gtfs
        Optional inputs, as :func:`qet_geo.layers.build_layers` takes them.
    modes
        "walk", "bike" or both; none gives the layers alone.
    homes
        "buildings" (residential buildings) or "cells" (INSEE 200 m cells, needs ``census``).
    with_access
        False to build the networks only (a visit route on stops given by the user).
    street_modes
        The modes whose street graph and layer the layers hold (both by default; ``modes`` are
        added to them): ``qet access`` builds only its own mode's.
    progress
        Called with the name of each step as it starts ("osm", "streets", ..., "access").
    """
    from qet_geo.layers import build_layers

    layers = build_layers(
        osm,
        territory=territory,
        census=census,
        iris_layer=iris_layer,
        dem=dem,
        landcover=landcover,
        gtfs=gtfs,
        street_modes=tuple(dict.fromkeys([*street_modes, *modes])),
        progress=progress,
    )
    return measure_access(
        layers, modes=modes, homes=homes, with_access=with_access, progress=progress
    )


def measure_access(
    layers: NeighbourhoodLayers,
    *,
    modes: Sequence[Mode] = ("walk",),
    homes: Homes = "buildings",
    with_access: bool = True,
    progress: Progress | None = None,
) -> Neighbourhood:
    """Build the street network of each mode once, and the per-home access table on it.

    Parameters
    ----------
    layers
        The neighbourhood's layers.
    modes
        "walk", "bike" or both.
    homes
        "buildings" or "cells".
    with_access
        False to build the networks only.
    progress
        Called with "access" before the first access table.
    """
    from qet_geo._validate import travel_mode
    from qet_geo.constraints.access import neighbourhood_access
    from qet_geo.network.graph import build_network

    for mode in modes:
        travel_mode(mode)  # before anything is built
    hood = Neighbourhood(layers=layers)
    if modes and with_access and progress is not None:
        progress("access")
    for mode in modes:
        nodes, edges = layers.graphs[mode]
        hood.networks[mode] = build_network(nodes, edges, mode=mode)
        if with_access:
            hood.access[mode] = neighbourhood_access(
                layers, mode=mode, homes=homes, network=hood.networks[mode]
            )
    return hood
