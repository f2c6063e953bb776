"""The streets a visit walks and the street of each stop, from the network's edges (private).

A leg is a LineString along the street edges (:func:`qet_geo.network.od.street_paths`): every
segment of it lies on one edge, except the short links from a stop to its street. Each segment
is matched to the edge it lies on (its midpoint within :data:`_ON_EDGE_M` of the edge), and the
edges' names (:attr:`qet_geo.network.graph.Network.edge_name`, the OSM ``name`` of the way)
give the streets in walking order, consecutive edges of the same street merged into one run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt
import shapely

from qet_geo.i18n import Msg, msg
from qet_geo.network.graph import Network

_ON_EDGE_M = 0.05  # a segment's midpoint this close to an edge lies on it
_SHORT_RUN_M = 12.0  # a street crossed over less than this is folded into its neighbour
_NEAR_STREET_M = 80.0  # farthest street named as a stop's street
_ADDRESS_M = 30.0  # farthest address point given as a stop's address

#: What an unnamed way is, by its ``highway`` tag, as a walker would say it.
HIGHWAY_LABELS: dict[str, Msg] = {
    "footway": msg("cheminement piéton"),
    "path": msg("sentier"),
    "pedestrian": msg("voie piétonne"),
    "steps": msg("escalier"),
    "cycleway": msg("piste cyclable"),
    "service": msg("voie de desserte"),
    "living_street": msg("zone de rencontre"),
    "track": msg("chemin"),
    "bridleway": msg("chemin"),
    "corridor": msg("passage couvert"),
    "residential": msg("rue sans nom"),
    "unclassified": msg("route sans nom"),
    "tertiary": msg("route sans nom"),
    "secondary": msg("route sans nom"),
    "primary": msg("route sans nom"),
}
UNNAMED = msg("voie sans nom")


class StreetRun(TypedDict):
    """Consecutive edges of one street along a leg."""

    name: str | None  # the OSM name, None for an unnamed way
    highway: str | None  # the way's highway tag (for an unnamed way's label)
    length_m: float


def street_label(run: StreetRun | dict[str, Any]) -> Msg | str:
    """The street's name, or what the unnamed way is ("cheminement piéton", "voie sans nom")."""
    name = run.get("name")
    if isinstance(name, str) and name:
        return name
    return HIGHWAY_LABELS.get(str(run.get("highway")), UNNAMED)


def _key(name: Any, highway: Any) -> tuple[str, str]:
    """What makes two runs the same street: the name, or the kind of an unnamed way."""
    if isinstance(name, str) and name:
        return ("name", name)
    label = HIGHWAY_LABELS.get(str(highway), UNNAMED)
    return ("kind", label.template)


class _EdgeIndex:
    """The network's edges in an STRtree, for matching path segments and stops to streets."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.tree = shapely.STRtree(net.edge_geometry)
        named = np.flatnonzero(np.asarray([isinstance(x, str) for x in net.edge_name]))
        self.named = named
        self.named_tree = shapely.STRtree(net.edge_geometry[named])

    def edges_of(self, line: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """For each segment of ``line``, the edge it lies on (-1 for none) and its length."""
        xy = shapely.get_coordinates(line)
        if len(xy) < 2:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        a, b = xy[:-1], xy[1:]
        seg_len = np.hypot(*(b - a).T)
        mid = shapely.points((a + b) / 2)
        pair_mid, pair_edge = self.tree.query(mid, predicate="dwithin", distance=_ON_EDGE_M)
        edge = np.full(len(a), -1, dtype=np.int64)
        if pair_mid.size:
            # among edges a segment lies on (a street and its twin, a way mapped twice), the
            # one whose geometry also holds the segment's ends, a named one first
            ends_a = shapely.distance(
                self.net.edge_geometry[pair_edge], shapely.points(a[pair_mid])
            )
            ends_b = shapely.distance(
                self.net.edge_geometry[pair_edge], shapely.points(b[pair_mid])
            )
            holds = (ends_a <= _ON_EDGE_M) & (ends_b <= _ON_EDGE_M)
            unnamed = np.asarray([not isinstance(x, str) for x in self.net.edge_name[pair_edge]])
            rank = np.lexsort((pair_edge, unnamed, ~holds, pair_mid))
            first = np.r_[True, pair_mid[rank][1:] != pair_mid[rank][:-1]]
            edge[pair_mid[rank][first]] = pair_edge[rank][first]
        return edge, seg_len

    def runs(self, line: Any) -> list[StreetRun]:
        """The streets walked along ``line``, in order, with the metres on each."""
        if line is None or shapely.is_empty(line):
            return []
        edge, seg_len = self.edges_of(line)
        runs: list[StreetRun] = []
        keys: list[tuple[str, str] | None] = []
        for e, length in zip(edge.tolist(), seg_len.tolist(), strict=True):
            if length <= 0:
                continue
            if e < 0:
                key, name, highway = None, None, None  # the link from a stop to its street
            else:
                name, highway = self.net.edge_name[e], self.net.edge_highway[e]
                key = _key(name, highway)
            if runs and (key is None or keys[-1] is None or keys[-1] == key):
                runs[-1]["length_m"] += length
                if keys[-1] is None and key is not None:  # the link joins the street it meets
                    runs[-1]["name"], runs[-1]["highway"], keys[-1] = name, highway, key
                continue
            runs.append({"name": name, "highway": highway, "length_m": length})
            keys.append(key)
        return _fold_short(runs, keys)

    def street_of(self, points: Sequence[Any]) -> list[str | None]:
        """The name of the named street nearest each point (within :data:`_NEAR_STREET_M`)."""
        geoms = np.asarray(list(points), dtype=object)
        if not geoms.size or not self.named.size:
            return [None] * geoms.size
        at, edge = self.named_tree.query_nearest(
            geoms, max_distance=_NEAR_STREET_M, all_matches=False
        )
        out: list[str | None] = [None] * geoms.size
        for i, e in zip(at.tolist(), edge.tolist(), strict=True):
            out[i] = str(self.net.edge_name[self.named[e]])
        return out


def _fold_short(runs: list[StreetRun], keys: list[tuple[str, str] | None]) -> list[StreetRun]:
    """Fold runs shorter than :data:`_SHORT_RUN_M` (a crossing, a kerb) into a neighbour."""
    if len(runs) <= 1:
        return runs
    while True:
        short = [i for i, r in enumerate(runs) if r["length_m"] < _SHORT_RUN_M]
        if not short or len(runs) <= 1:
            break
        i = min(short, key=lambda j: runs[j]["length_m"])
        into = i - 1 if i > 0 else 1
        if 0 < i < len(runs) - 1 and runs[i + 1]["length_m"] > runs[i - 1]["length_m"]:
            into = i + 1
        runs[into]["length_m"] += runs[i]["length_m"]
        del runs[i], keys[i]
        # two runs of the same street now side by side become one
        merged_runs: list[StreetRun] = []
        merged_keys: list[tuple[str, str] | None] = []
        for run, key in zip(runs, keys, strict=True):
            if merged_runs and merged_keys[-1] == key:
                merged_runs[-1]["length_m"] += run["length_m"]
            else:
                merged_runs.append(run)
                merged_keys.append(key)
        runs, keys = merged_runs, merged_keys
    return runs


def nearest_address(
    addresses: Any, points: Sequence[Any], *, max_m: float = _ADDRESS_M
) -> list[str | None]:
    """The house-number address nearest each point ("12 Rue Paul Bert"), within ``max_m``."""
    out: list[str | None] = [None] * len(points)
    if addresses is None or len(addresses) == 0 or not len(points):
        return out
    if "housenumber" not in addresses.columns or "street" not in addresses.columns:
        return out
    ok = addresses["housenumber"].notna() & addresses["street"].notna()
    table = addresses[ok]
    if table.empty:
        return out
    geoms = np.asarray(table.geometry.array, dtype=object)
    tree = shapely.STRtree(geoms)
    at, near = tree.query_nearest(
        np.asarray(points, dtype=object), max_distance=max_m, all_matches=False
    )
    numbers = table["housenumber"].astype(str).to_numpy()
    streets = table["street"].astype(str).to_numpy()
    for i, j in zip(at.tolist(), near.tolist(), strict=True):
        out[i] = f"{numbers[j].strip()} {streets[j].strip()}"
    return out
