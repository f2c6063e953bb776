"""Tiled extracts: a real OSM extract repeated k×k side by side, for the city-scale benches.

Every street and building of a tiled extract is real (a copy of a town centre), so the costs
measured on it are those of real data; only the area grows. Copy ``(i, j)`` is shifted east by
``i`` and north by ``j`` times the extract's width/height in degrees plus a small gap, so the
copies do not overlap. The extract's "width" is the box its header states grown to the extent
of its buildings (a building crossing the box's edge stays whole in an extract, and would reach
into the next copy), else the extent of its buildings (what ``qet_geo.inputs.osm`` takes as the
area of an extract without a header box: streets cut with ``osmium extract`` run kilometres past
it), else the extent of its nodes. Every copy then holds the same homes: k² times those of one.

Ids are offset per copy (copy ``c`` adds ``c * step``, ``step`` a power of ten above every id
of the source) so they stay unique, and the file is written in the order libosmium's single
pass needs (``osmium sort``'s): every node of every copy, then the ways, then the relations,
each sorted by id. Way node refs and relation member refs are offset with their copy. The
header's box is the whole tiled area.

Files are cached in ``dest_dir`` under a name holding the source file's hash and ``k``; they are
written to a temporary name and renamed, so a half-written file is never reused.

Usage::

    .venv/bin/python bench/_tiled.py /work/shared/data/osm/lorient_centre.osm.pbf 4
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import osmium
import osmium.osm.mutable as mutable

#: Gap between two copies, in degrees (~ 100 m).
GAP_DEG = 0.001
#: The reader moves ids above this back to negative (JOSM's new objects): stay below it.
ID_LIMIT = 1 << 48
#: Part of the cached files' names: bumped when the layout changes, so old files are not reused.
FORMAT = 2
DEFAULT_DIR = Path(os.environ.get("QET_BENCH_TILED", "/tmp/qet-bench-tiled"))


@dataclass
class _Source:
    """The objects of an extract, held in memory once (tags as lists of pairs)."""

    nodes: list[tuple[int, float, float, list[tuple[str, str]]]] = field(default_factory=list)
    ways: list[tuple[int, list[int], list[tuple[str, str]]]] = field(default_factory=list)
    relations: list[tuple[int, list[tuple[str, int, str]], list[tuple[str, str]]]] = field(
        default_factory=list
    )
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def _header_box(path: Path) -> tuple[float, float, float, float] | None:
    box = osmium.FileProcessor(str(path), osmium.osm.NOTHING).header.box()
    if not box.valid():
        return None
    left, bottom = box.bottom_left.lon, box.bottom_left.lat
    right, top = box.top_right.lon, box.top_right.lat
    if not (-180 <= left < right <= 180 and -90 <= bottom < top <= 90):
        return None
    return (left, bottom, right, top)


def _extent(points: list[tuple[float, float]]) -> tuple[float, float, float, float] | None:
    if not points:
        return None
    lons = [p[0] for p in points]
    lats = [p[1] for p in points]
    return (min(lons), min(lats), max(lons), max(lats))


def _load(path: Path) -> _Source:
    """Read ``path`` once into memory, sorted by type and id."""
    src = _Source()
    entities = osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION
    where: dict[int, tuple[float, float]] = {}
    building_refs: list[int] = []
    for obj in osmium.FileProcessor(str(path), entities):
        tags = [(t.k, t.v) for t in obj.tags]
        if isinstance(obj, osmium.osm.Node):
            if not obj.location.valid():
                continue
            lon, lat = obj.location.lon, obj.location.lat
            where[obj.id] = (lon, lat)
            src.nodes.append((obj.id, lon, lat, tags))
        elif isinstance(obj, osmium.osm.Way):
            refs = [n.ref for n in obj.nodes]
            if obj.tags.get("building", "no") != "no":
                building_refs.extend(refs)
            src.ways.append((obj.id, refs, tags))
        elif isinstance(obj, osmium.osm.Relation):
            members = [(m.type, m.ref, m.role) for m in obj.members]
            src.relations.append((obj.id, members, tags))
    src.nodes.sort(key=lambda n: n[0])
    src.ways.sort(key=lambda w: w[0])
    src.relations.sort(key=lambda r: r[0])
    header = _header_box(path)
    buildings = _extent([where[r] for r in building_refs if r in where])
    if header and buildings:  # buildings crossing the header's box: the copies must not overlap
        box: tuple[float, float, float, float] | None = (
            min(header[0], buildings[0]),
            min(header[1], buildings[1]),
            max(header[2], buildings[2]),
            max(header[3], buildings[3]),
        )
    else:
        box = header or buildings or _extent(list(where.values()))
    if box is None:
        raise ValueError(f"{path}: no located node")
    src.box = box
    return src


def _write(src: _Source, k: int, out: Path) -> None:
    left, bottom, right, top = src.box
    dx = right - left + GAP_DEG
    dy = top - bottom + GAP_DEG
    max_id = max(
        [n[0] for n in src.nodes[-1:]]
        + [w[0] for w in src.ways[-1:]]
        + [r[0] for r in src.relations[-1:]]
    )
    step = 10 ** math.ceil(math.log10(max_id + 1))
    if step * k * k >= ID_LIMIT:
        raise ValueError(f"k={k}: ids would pass {ID_LIMIT}")
    header = osmium.io.Header()
    header.add_box(
        osmium.osm.Box(
            osmium.osm.Location(left, bottom),
            osmium.osm.Location(left + k * dx - GAP_DEG, bottom + k * dy - GAP_DEG),
        )
    )
    header.set("generator", "qet-geo bench/_tiled.py")
    copies = [(i * k + j, i * dx, j * dy) for i in range(k) for j in range(k)]
    tmp = out.with_name(f".part{os.getpid()}-{out.name}")  # libosmium needs the suffix
    writer = osmium.SimpleWriter(str(tmp), header=header, overwrite=True)
    try:
        node_cls, way_cls, rel_cls = mutable.Node, mutable.Way, mutable.Relation
        for c, sx, sy in copies:
            off = c * step
            for ident, lon, lat, tags in src.nodes:
                writer.add_node(
                    node_cls(id=ident + off, location=(lon + sx, lat + sy), tags=tags, version=1)
                )
        for c, _sx, _sy in copies:
            off = c * step
            for ident, refs, tags in src.ways:
                writer.add_way(
                    way_cls(id=ident + off, nodes=[r + off for r in refs], tags=tags, version=1)
                )
        for c, _sx, _sy in copies:
            off = c * step
            for ident, members, tags in src.relations:
                writer.add_relation(
                    rel_cls(
                        id=ident + off,
                        members=[(t, ref + off, role) for t, ref, role in members],
                        tags=tags,
                        version=1,
                    )
                )
    finally:
        writer.close()
    tmp.replace(out)


def _tiled(source: Path, k: int, dest_dir: Path, suffix: str) -> Path:
    if k < 1:
        raise ValueError("k must be >= 1")
    dest_dir.mkdir(parents=True, exist_ok=True)
    stem = source.name.split(".")[0]
    out = dest_dir / f"{stem}-{_file_hash(source)}-v{FORMAT}-k{k}{suffix}"
    if not out.exists():
        _write(_load(source), k, out)
    return out


def tiled_extract(source: Path, k: int, dest_dir: Path = DEFAULT_DIR) -> Path:
    """Return a PBF of ``k×k`` copies of ``source`` side by side (built once, then cached)."""
    return _tiled(Path(source), k, Path(dest_dir), ".osm.pbf")


def tiled_extract_xml(source: Path, k: int, dest_dir: Path = DEFAULT_DIR) -> Path:
    """Return the same tiled extract as :func:`tiled_extract`, as OSM XML (for osmnx)."""
    return _tiled(Path(source), k, Path(dest_dir), ".osm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("k", type=int)
    parser.add_argument("--dest", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--xml", action="store_true", help="write OSM XML instead of PBF")
    args = parser.parse_args()
    t0 = time.perf_counter()
    make = tiled_extract_xml if args.xml else tiled_extract
    out = make(args.source, args.k, args.dest)
    size = out.stat().st_size / 1e6
    print(f"{out} ({size:.1f} MB, {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    print(out)


if __name__ == "__main__":
    main()
