"""Benchmark: load the Lorient extract into the walk graph, buildings and amenities.

qet-geo (one pyosmium pass, from the PBF and from the same data as XML) against osmnx
(the walk graph from the XML, the only format osmnx reads, + ``features_from_xml``), in one run.
Prints the times (best of N) and the ratios.

Like for like: osmnx is given the library's walk filter as a ``custom_filter``
(``scale_city.WALK_FILTER``, the filter of ``qet_geo.inputs.osm._keeps`` for walk, which is
osmnx's own walk filter). ``graph_from_xml`` takes no filter and makes a graph of every way of
the file (buildings included), so the graph is built as ``graph_from_xml`` does it (osmnx's XML
reader, ``_create_graph``, ``simplify_graph``, every component kept, bidirectional as osmnx's
walk networks are) from the ways the filter passes and their nodes, what an Overpass query with
that filter returns (``scale_city.osmnx_walk_graph``); the simplification keeps the nodes where
two ways meet, as the library does (``edge_attrs_differ=["osmid"]``, osmnx 1's strict mode). The
node and edge counts of both graphs are printed to show they are the same graph (Lorient: 753
nodes, 2 016 edges for both).

    .venv/bin/python bench/layers.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_city import osmnx_walk_graph

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "osm"

# the tags qet-geo's amenities and buildings are read from (qet_geo.taxonomy plus buildings)
OSMNX_TAGS: dict[str, bool | str | list[str]] = {
    "building": True,
    "amenity": True,
    "shop": True,
    "leisure": True,
    "craft": True,
    "healthcare": True,
    "office": True,
    "tourism": True,
    "highway": "bus_stop",
    "railway": ["station", "halt", "tram_stop"],
    "public_transport": True,
    "landuse": True,
}


def best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    import osmnx as ox

    from qet_geo.inputs.osm import read_osm

    pbf = SHARED / "lorient_centre.osm.pbf"
    tmp = Path(tempfile.mkdtemp())
    xml = tmp / "lorient_centre.osm"
    with gzip.open(SHARED / "lorient_centre.osm.gz", "rb") as src, xml.open("wb") as dst:
        shutil.copyfileobj(src, dst)

    def qet(path: Path) -> Callable[[], object]:
        def run() -> object:
            data = read_osm(path)
            nodes, edges = data.graph("walk")
            return len(nodes), len(edges), len(data.buildings), len(data.amenities)

        return run

    def osmnx_run() -> object:
        graph = osmnx_walk_graph(xml)
        features = ox.features_from_xml(xml, tags=OSMNX_TAGS)
        return graph.number_of_nodes(), graph.number_of_edges(), len(features)

    t_pbf, r_pbf = best(qet(pbf), args.repeat)
    t_xml, r_xml = best(qet(xml), args.repeat)
    t_ox, r_ox = best(osmnx_run, max(1, args.repeat // 2))
    shutil.rmtree(tmp, ignore_errors=True)

    print("Lorient centre: walk graph + buildings + amenities")
    what = "(walk nodes, walk edges, buildings, amenities"
    print(f"  qet-geo, PBF : {t_pbf * 1000:8.1f} ms  {what} = {r_pbf})")
    print(f"  qet-geo, XML : {t_xml * 1000:8.1f} ms  {what} = {r_xml})")
    print(f"  osmnx,   XML : {t_ox * 1000:8.1f} ms  (walk nodes, walk edges, features = {r_ox})")
    print(f"ratio osmnx / qet-geo (PBF): {t_ox / t_pbf:6.1f}x   (target >= 10x)")
    print(f"ratio osmnx / qet-geo (XML): {t_ox / t_xml:6.1f}x")


if __name__ == "__main__":
    main()
