"""OpenStreetMap layers read offline from a local extract.

One pyosmium pass over an ``.osm``, ``.osm.gz``, ``.osm.bz2`` or ``.osm.pbf`` file gives every layer a
neighbourhood diagnostic needs: street graphs (walk, bike, drive, following osmnx's filters and its
``graph_to_gdfs`` conventions), buildings, amenities classified by :mod:`qet_geo.taxonomy`, transit
stops, cycleways, parking, parks and water. Everything is returned in Lambert-93 (EPSG:2154).

Files in any object order are read: a sorted one (Geofabrik, ``osmium extract``) in one pass, an
Overpass or JOSM file through a sorted copy (:mod:`qet_geo.inputs._osm_order`).

Real extracts are clipped at their border: ways reference nodes that are not in the file. Such ways
are kept in the parts whose nodes are present, and a warning counts what was missing (osmnx's
``graph_from_xml`` refuses these files).

Examples
--------
>>> from qet_geo.inputs.osm import read_osm
>>> data = read_osm("lorient_centre.osm.pbf")  # doctest: +SKIP
>>> nodes, edges = data.graph("walk")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
import tempfile
import warnings
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Literal, cast

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import shapely
from pyproj import Transformer

from qet_geo._gc import no_cycle_collection
from qet_geo._validate import existing_file
from qet_geo.crs import WGS84, WORK_CRS
from qet_geo.errors import (
    DataCoverageError,
    EmptyDataError,
    InputFileError,
    QetGeoWarning,
    ValidationError,
)
from qet_geo.i18n import AND, Msg, join, msg, number
from qet_geo.inputs import _osm_order
from qet_geo.inputs._osm_fast import all_tags, kept_tags, way_nodes
from qet_geo.inputs._wkb import multipolygons, wkb_list
from qet_geo.taxonomy import TAXONOMY_KEYS, classify

__all__ = [
    "NETWORK_TYPES",
    "OSM_LAYERS",
    "OsmData",
    "clip_osm",
    "count_osm_objects",
    "highway_lines",
    "read_osm",
    "street_graph",
]

log = logging.getLogger(__name__)

NetworkType = Literal["walk", "bike", "drive"]
NETWORK_TYPES: tuple[str, ...] = ("walk", "bike", "drive")
#: The feature layers of :class:`OsmData`, in order.
OSM_LAYERS: tuple[str, ...] = (
    "buildings",
    "amenities",
    "transit_stops",
    "cycleways",
    "parking",
    "parks",
    "water",
    "addresses",
)

_SUFFIXES = (".osm", ".osm.gz", ".osm.bz2", ".osm.pbf", ".pbf", ".xml", ".osm.xml")
_TO_L93 = Transformer.from_crs(WGS84, WORK_CRS, always_xy=True)

# osmnx's network filters (osmnx._overpass._get_network_filter), as regexes that must NOT match.
# Overpass's `!~` is an unanchored regex search; we apply them the same way.
_ACCESS_PRIVATE = re.compile("private")
_NETWORK_EXCLUDE: dict[str, dict[str, re.Pattern[str]]] = {
    "walk": {
        "highway": re.compile(
            "abandoned|bus_guideway|construction|cycleway|motor|no|planned|platform|proposed|"
            "raceway|razed|rest_area|services"
        ),
        "foot": re.compile("no"),
        "service": re.compile("private"),
        "sidewalk": re.compile("separate"),
        "sidewalk:both": re.compile("separate"),
        "sidewalk:left": re.compile("separate"),
        "sidewalk:right": re.compile("separate"),
    },
    "bike": {
        "highway": re.compile(
            "abandoned|bus_guideway|construction|corridor|elevator|escalator|footway|motor|no|"
            "planned|platform|proposed|raceway|razed|rest_area|services|steps"
        ),
        "bicycle": re.compile("no"),
        "service": re.compile("private"),
    },
    "drive": {
        "highway": re.compile(
            "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|escalator|"
            "footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|rest_area|"
            "service|services|steps|track"
        ),
        "motor_vehicle": re.compile("no"),
        "motorcar": re.compile("no"),
        "service": re.compile("alley|driveway|emergency_access|parking|parking_aisle|private"),
    },
}

# Way tags kept on graph edges and on the raw highway table.
_WAY_TAGS = (
    "highway",
    "name",
    "oneway",
    "junction",
    "access",
    "foot",
    "bicycle",
    "motor_vehicle",
    "motorcar",
    "service",
    "area",
    "sidewalk",
    "sidewalk:both",
    "sidewalk:left",
    "sidewalk:right",
    "cycleway",
    "cycleway:left",
    "cycleway:right",
    "cycleway:both",
    "oneway:bicycle",
    "maxspeed",
    "lanes",
    "surface",
    "lit",
)

_WAY_TAGS_KEPT = {k: k for k in _WAY_TAGS}

# Building values that are homes; values that are not; "yes" is decided by context (see below).
_RESIDENTIAL_BUILDINGS = frozenset(
    {
        "residential",
        "house",
        "apartments",
        "detached",
        "semidetached_house",
        "terrace",
        "bungalow",
        "dormitory",
        "farm",
        "cabin",
        "houseboat",
        "static_caravan",
        "villa",
    }
)
_NON_RESIDENTIAL_BUILDINGS = frozenset(
    {
        "commercial",
        "industrial",
        "retail",
        "office",
        "warehouse",
        "supermarket",
        "kiosk",
        "church",
        "chapel",
        "cathedral",
        "mosque",
        "synagogue",
        "temple",
        "religious",
        "shrine",
        "school",
        "kindergarten",
        "university",
        "college",
        "hospital",
        "public",
        "civic",
        "government",
        "train_station",
        "transportation",
        "garage",
        "garages",
        "carport",
        "shed",
        "hut",
        "roof",
        "parking",
        "barn",
        "stable",
        "cowshed",
        "greenhouse",
        "farm_auxiliary",
        "service",
        "sports_hall",
        "sports_centre",
        "stadium",
        "grandstand",
        "pavilion",
        "hangar",
        "bunker",
        "ruins",
        "construction",
        "toilets",
        "water_tower",
        "storage_tank",
        "silo",
        "transformer_tower",
        "fire_station",
        "hotel",
        "bridge",
        "boathouse",
        "manufacture",
        "no",
    }
)
#: Below this footprint (m²) a ``building=yes`` is taken for a shed or a garage, not a home.
MIN_HOME_AREA_M2 = 30.0
_NON_HOME_KEYS = ("amenity", "shop", "office", "tourism", "leisure", "craft", "man_made")
#: The keys one of which an object has when it is an amenity, a parking or an address.
_POINT_LAYER_KEYS = TAXONOMY_KEYS | {"amenity", "addr:housenumber"}

_CYCLE_VALUES = frozenset(
    {
        "lane",
        "track",
        "opposite_lane",
        "opposite_track",
        "share_busway",
        "shared_lane",
        "opposite",
        "separate",
    }
)
_PARK_TAGS = {
    "leisure": {"park", "garden", "playground", "nature_reserve", "common"},
    "landuse": {"recreation_ground", "village_green", "grass", "forest"},
    "natural": {"wood", "scrub"},
}
_WATER_TAGS = {
    "natural": {"water"},
    "waterway": {"riverbank", "dock"},
    "landuse": {"basin", "reservoir"},
}

_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def _first_number(value: str | None) -> float:
    """Parse '12', '12.5 m', '3;4', "40'" into a float (feet converted); NaN when absent."""
    if not value:
        return np.nan
    match = _NUMBER.search(value)
    if match is None:
        return np.nan
    number = float(match.group().replace(",", "."))
    if "'" in value or "ft" in value:
        number *= 0.3048
    return number


@dataclass(frozen=True)
class MissingReport:
    """What a clipped extract lacked: node references with no node in the file."""

    missing_nodes: int = 0
    ways_affected: int = 0
    missing_members: int = 0
    relations_affected: int = 0
    areas_lost: int = 0

    def __bool__(self) -> bool:
        return self.missing_nodes > 0 or self.missing_members > 0


@dataclass(frozen=True)
class OsmData:
    """Layers of one OSM extract, in EPSG:2154.

    Attributes
    ----------
    path
        The extract read.
    bounds
        ``(left, bottom, right, top)`` in lon/lat: the extent of the data, the box the file's
        header states (XML ``<bounds>``, PBF header), else the extent of its buildings drawn by
        ways (the streets crossing the edge of an extract cut with osmium run far past it),
        else the extent of its nodes (tagged nodes, streets, areas drawn by ways; not the far
        members of relations). The whole
        extract's territory and the border of :data:`qet_geo.network.isochrone.BORDER_MARGIN_M`
        are drawn from it.
    buildings, amenities, transit_stops, cycleways, parking, parks, water, addresses
        The feature layers (GeoDataFrames in EPSG:2154, indexed by ``osm_type``+``osm_id`` as a
        string such as ``"w123"``).
    highways
        Raw highway ways (one row per way part), used to build the street graphs.
    missing
        What the clipped extract lacked.
    """

    path: str
    bounds: tuple[float, float, float, float]
    buildings: gpd.GeoDataFrame
    amenities: gpd.GeoDataFrame
    transit_stops: gpd.GeoDataFrame
    cycleways: gpd.GeoDataFrame
    parking: gpd.GeoDataFrame
    parks: gpd.GeoDataFrame
    water: gpd.GeoDataFrame
    addresses: gpd.GeoDataFrame
    highways: pd.DataFrame = field(repr=False)
    missing: MissingReport = MissingReport()
    mask: shapely.Geometry | None = field(default=None, repr=False)

    def graph(
        self, network_type: NetworkType = "walk"
    ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        """Return the street graph of ``network_type`` as ``(nodes, edges)``; see :func:`street_graph`."""
        return street_graph(self, network_type=network_type)

    def layer_counts(self) -> dict[str, int]:
        """Return the number of features of each layer."""
        return {name: len(getattr(self, name)) for name in OSM_LAYERS}


# --------------------------------------------------------------------------------------------
# reading


def read_osm(
    path: str | PathLike[str],
    *,
    mask: shapely.Geometry | None = None,
    max_objects: int | None = None,
) -> OsmData:
    """Read every layer of an OSM extract, offline, in EPSG:2154.

    Parameters
    ----------
    path
        An ``.osm``, ``.osm.gz``, ``.osm.bz2`` or ``.osm.pbf`` file, its objects in any order
        (an Overpass export, a JOSM save: deleted objects are left out, new objects keep their
        negative ids); a UTF-8 BOM is accepted.
    mask
        A polygon in EPSG:2154 (the territory plus its buffer): features that do not intersect it
        are dropped. None keeps the whole extract.
    max_objects
        None (no limit), or the most OSM objects the file may decode to, counted by
        :func:`count_osm_objects` before it is read: a small file can hold millions of objects.

    Returns
    -------
    OsmData

    Raises
    ------
    InputFileError
        The file is missing, truncated, corrupt, or not OSM data, or holds more than
        ``max_objects`` objects.
    EmptyDataError
        The extract holds no node.
    DataCoverageError
        The extract does not reach the mask.
    """
    path = Path(path)
    existing_file(
        path,
        what=msg("Fichier OSM"),
        hint=msg(
            "Indiquez le chemin d'un extrait .osm, .osm.gz, .osm.bz2 ou .osm.pbf (par "
            "exemple découpé dans les fichiers Geofabrik)."
        ),
    )
    if not path.is_file():
        raise InputFileError(
            msg("{path} est un dossier, pas un fichier OSM.", path=path), path=path
        )
    name = path.name.lower()
    if not name.endswith(_SUFFIXES):
        raise InputFileError(
            msg(
                "{path} : type de fichier OSM inconnu. Utilisez .osm, .osm.gz, .osm.bz2 ou "
                ".osm.pbf (renommez le fichier s'il a une autre extension).",
                path=path,
            ),
            path=path,
        )
    if max_objects is not None:
        count_osm_objects(path, limit=max_objects)
    try:
        with no_cycle_collection():
            raw = _read_any_order(path)
    except RuntimeError as err:
        raise InputFileError(
            msg(
                "{path} n'a pas pu être lu comme données OpenStreetMap ({err}). Le fichier est "
                "tronqué, corrompu ou n'est pas un extrait OSM : téléchargez-le ou exportez-le à "
                "nouveau.",
                path=path,
                err=err,
            ),
            path=path,
        ) from err
    if not (raw.pt_keys or raw.area_keys or raw.hw_ids or len(raw.way_ids)):
        raise EmptyDataError(
            msg(
                "{path} ne contient aucun objet OSM : l'extrait est vide. Découpez-le à nouveau "
                "sur le quartier.",
                path=path,
            ),
            path=path,
        )
    with no_cycle_collection():
        data = _assemble(path, raw)
    if data.missing:
        m = data.missing
        parts = []
        if m.missing_nodes:
            parts.append(
                msg(
                    "{nodes} nœud(s) cités par {ways} voie(s)",
                    nodes=m.missing_nodes,
                    ways=m.ways_affected,
                )
            )
        if m.missing_members:
            parts.append(
                msg(
                    "{ways} voie(s) citées par {relations} relation(s)",
                    ways=m.missing_members,
                    relations=m.relations_affected,
                )
            )
        warnings.warn(
            QetGeoWarning(
                msg(
                    "{path} : l'extrait est coupé à sa bordure : {missing} manquent dans le "
                    "fichier ; les parties présentes sont gardées, {areas_lost} surface(s) n'ont pu "
                    "être fermées.",
                    path=path,
                    missing=join(parts, AND),
                    areas_lost=m.areas_lost,
                )
            ),
            stacklevel=2,
        )
    if mask is not None:
        data = clip_osm(data, mask)
    return data


# --------------------------------------------------------------------------------------------
# limits: what a file decodes to, counted before libosmium reads it

#: Largest blob header and largest blob (compressed or not) of the PBF format, in bytes.
_PBF_MAX_HEADER = 64 * 1024
_PBF_MAX_BLOB = 32 * 1024 * 1024
#: Bytes of a varint's continuation (high bit set): deleting them leaves one byte per varint.
_VARINT_CONTINUATION = bytes(range(128, 256))
_XML_TAGS = (b"<node", b"<way", b"<relation", b"<nd ", b"<nd/", b"<member")


def count_osm_objects(path: str | PathLike[str], *, limit: int | None = None) -> int:
    """Count the OSM objects a file decodes to, without building them.

    Objects are nodes, ways, relations, the node references of ways and the members of
    relations: what libosmium allocates and the reader walks. A PBF's blobs are decompressed one
    by one (32 MiB at most each, as the format says) and their packed fields counted in C (one
    byte per varint ends with its high bit clear); an XML file is streamed through its
    decompressor and its elements counted. Memory stays under a few blobs, and counting stops
    as soon as ``limit`` is passed: 300 KB of zero-delta nodes that decode to tens of millions
    of objects are refused in milliseconds.

    Parameters
    ----------
    path
        An ``.osm``, ``.osm.gz``, ``.osm.bz2`` or ``.osm.pbf`` file.
    limit
        None, or the most objects accepted.

    Returns
    -------
    int
        The number of objects (at most ``limit`` + the objects of one blob).

    Raises
    ------
    InputFileError
        More than ``limit`` objects, or a PBF whose framing is not the format's (corrupt, or
        compressed otherwise than zlib).
    """
    path = Path(path)
    if path.name.lower().endswith(".pbf"):
        return _count_pbf(path, limit)
    return _count_xml(path, limit)


def _too_many(path: Path, limit: int) -> InputFileError:
    return InputFileError(
        msg(
            "{name} contient plus de {limit} objets OSM (nœuds, voies, relations et leurs "
            "références), plus qu'un extrait de quartier : découpez-le sur le territoire plus "
            "1 km (osmium extract), ou vérifiez que c'est un vrai extrait.",
            name=path.name,
            limit=number(limit),
        ),
        path=path,
    )


def _bad_pbf(path: Path, what: Msg) -> InputFileError:
    return InputFileError(
        msg(
            "{path} n'a pas pu être lu comme données OpenStreetMap ({what}). Le fichier "
            "est tronqué, corrompu ou n'est pas un extrait OSM : téléchargez-le ou "
            "exportez-le à nouveau.",
            path=path,
            what=what,
        ),
        path=path,
    )


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes, start: int = 0, end: int | None = None) -> Iterable[tuple[int, int, int]]:
    """Yield ``(field number, start, end)`` of the length-delimited fields of a protobuf message
    (and ``(field number, value, -1)`` of its varints)."""
    pos, end = start, len(buf) if end is None else end
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, value, -1
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > end:
                raise ValueError("truncated field")
            yield number, pos, pos + size
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"wire type {wire}")
    if pos != end:
        raise ValueError("truncated message")


def _n_varints(buf: bytes, start: int, end: int) -> int:
    return len(buf[start:end].translate(None, _VARINT_CONTINUATION))


def _count_block(block: bytes) -> int:
    """Objects of one PrimitiveBlock: nodes, dense nodes, ways and their refs, relations and
    their members."""
    count = 0
    for field_no, start, end in _fields(block):
        if field_no != 2 or end < 0:  # 2: PrimitiveGroup
            continue
        for kind, g_start, g_end in _fields(block, start, end):
            if g_end < 0:
                continue
            if kind == 1:  # Node
                count += 1
            elif kind == 2:  # DenseNodes: field 1 is the packed ids
                for n, d_start, d_end in _fields(block, g_start, g_end):
                    if n == 1 and d_end >= 0:
                        count += _n_varints(block, d_start, d_end)
            elif kind in (3, 4):  # Way (refs: 8) and Relation (memids: 9)
                packed = 8 if kind == 3 else 9
                count += 1
                for n, o_start, o_end in _fields(block, g_start, g_end):
                    if n == packed and o_end >= 0:
                        count += _n_varints(block, o_start, o_end)
    return count


def _count_pbf(path: Path, limit: int | None) -> int:
    import zlib

    count = 0
    with path.open("rb") as f:
        while True:
            size_bytes = f.read(4)
            if not size_bytes:
                return count
            size = int.from_bytes(size_bytes, "big")
            if len(size_bytes) < 4 or size > _PBF_MAX_HEADER:
                raise _bad_pbf(path, msg("taille d'en-tête de bloc invalide"))
            header = f.read(size)
            try:
                fields = {n: (s, e) for n, s, e in _fields(header)}
            except ValueError as exc:
                raise _bad_pbf(path, msg("en-tête de bloc illisible")) from exc
            kind = header[fields[1][0] : fields[1][1]] if 1 in fields else b""
            data_size = fields[3][0] if 3 in fields else -1
            if not 0 <= data_size <= _PBF_MAX_BLOB:
                raise _bad_pbf(path, msg("taille de bloc invalide"))
            blob = f.read(data_size)
            if len(blob) < data_size:
                raise _bad_pbf(path, msg("bloc tronqué"))
            if kind != b"OSMData":
                continue
            try:
                parts = {n: (s, e) for n, s, e in _fields(blob)}
            except ValueError as exc:
                raise _bad_pbf(path, msg("bloc illisible")) from exc
            if 1 in parts:  # raw
                block = blob[parts[1][0] : parts[1][1]]
            elif 3 in parts:  # zlib_data, inflated to the declared size at most
                raw_size = parts[2][0] if 2 in parts else _PBF_MAX_BLOB
                inflate = zlib.decompressobj()
                try:
                    block = inflate.decompress(
                        blob[parts[3][0] : parts[3][1]], min(raw_size, _PBF_MAX_BLOB) + 1
                    )
                except zlib.error as exc:
                    raise _bad_pbf(path, msg("compression zlib illisible")) from exc
                if len(block) > _PBF_MAX_BLOB:
                    raise _bad_pbf(path, msg("bloc de plus de 32 Mio"))
            else:
                raise _bad_pbf(
                    path,
                    msg(
                        "bloc compressé autrement qu'en zlib : exportez-le à nouveau en zlib (par défaut "
                        "d'osmium)"
                    ),
                )
            try:
                count += _count_block(block)
            except ValueError as exc:
                raise _bad_pbf(path, msg("bloc de données illisible")) from exc
            if limit is not None and count > limit:
                raise _too_many(path, limit)


def _count_xml(path: Path, limit: int | None) -> int:
    import bz2
    import gzip

    name = path.name.lower()
    opener: Callable[[Path, str], Any] = (
        gzip.open if name.endswith(".gz") else bz2.open if name.endswith(".bz2") else open
    )
    count = 0
    carry = b""
    with opener(path, "rb") as f:
        while True:
            try:
                chunk = f.read(1 << 20)
            except (OSError, EOFError, ValueError):
                break  # a corrupt file: the reader says what is wrong with it
            if not chunk:
                break
            data = carry + chunk
            # an element cut by the chunk boundary is counted with the next chunk; its name is
            # all that is needed of it
            cut = data.rfind(b"<")
            carry, data = (b"", data) if cut < 0 else (data[cut : cut + 16], data[:cut])
            count += sum(data.count(tag) for tag in _XML_TAGS)
            if limit is not None and count > limit:
                raise _too_many(path, limit)
    return count + sum(carry.count(tag) for tag in _XML_TAGS)


@dataclass
class _Raw:
    # highway ways: one entry per way in hw_ids, hw_tags and hw_sizes (its number of nodes);
    # their nodes one after the other in hw_refs, hw_x, hw_y (libosmium's fixed-point
    # coordinates, out of range for a node absent from the file), filled as arrays by
    # :func:`_read_raw` and made numpy arrays at its end
    hw_ids: list[int] = field(default_factory=list)
    hw_tags: list[dict[str, str]] = field(default_factory=list)
    hw_sizes: Any = field(default_factory=lambda: array("q"))
    hw_refs: Any = field(default_factory=lambda: array("q"))
    hw_x: Any = field(default_factory=lambda: array("q"))
    hw_y: Any = field(default_factory=lambda: array("q"))
    # point features (nodes): their osm keys ("n123"), tags (those of _KEPT_TAGS) and lon/lat
    pt_keys: list[str] = field(default_factory=list)
    pt_tags: list[dict[str, str]] = field(default_factory=list)
    pt_lon: Any = field(default_factory=lambda: array("d"))
    pt_lat: Any = field(default_factory=lambda: array("d"))
    # area features: their osm keys ("w123", "r45"), tags, and WKB laid end to end in area_wkb
    # (area_len bytes each: one buffer, not an object per area)
    area_keys: list[str] = field(default_factory=list)
    area_tags: list[dict[str, str]] = field(default_factory=list)
    area_wkb: bytearray = field(default_factory=bytearray)
    area_len: Any = field(default_factory=lambda: array("q"))
    # what each layer takes of the areas, sorted out as they are read (a pass over a city's tags
    # afterwards costs more in memory reads than the work it does): the buildings' indices and
    # _building_row; the areas a point layer may take; the parks' and water's indices and kinds
    building_at: Any = field(default_factory=lambda: array("q"))
    building_rows: list[tuple[Any, ...]] = field(default_factory=list)
    point_areas: Any = field(default_factory=lambda: array("q"))
    parks: list[tuple[int, str]] = field(default_factory=list)
    water: list[tuple[int, str]] = field(default_factory=list)
    # non-highway open ways with useful tags (cycleways mapped off-road are highways already)
    missing_refs: set[int] = field(default_factory=set)
    way_ids: Any = field(default_factory=lambda: array("q"))
    missing_members: int = 0
    relations_missing: int = 0
    late_nodes: bool = False
    ways_missing: int = 0
    closed_ways_missing: int = 0


#: libosmium's fixed-point coordinate unit (``Location.lon == x / _COORD_PRECISION`` exactly)
#: and its bounds of a valid location (``Location.valid()``).
_COORD_PRECISION = 10_000_000
_MAX_X, _MAX_Y = 180 * _COORD_PRECISION, 90 * _COORD_PRECISION


# Objects with none of these keys never reach Python (libosmium filters them in C++).
_READ_KEYS = sorted(
    TAXONOMY_KEYS
    | {"highway", "building", "amenity", "shop", "addr:housenumber"}
    | set(_PARK_TAGS)
    | set(_WATER_TAGS)
)


#: The tags of points and areas any layer reads: the other tags are not kept (they were most of
#: the memory a large extract's buildings took).
_KEPT_TAGS: dict[str, str] = {
    k: k
    for k in (
        TAXONOMY_KEYS
        | set(_PARK_TAGS)
        | set(_WATER_TAGS)
        | set(_NON_HOME_KEYS)
        | {
            "highway",
            "building",
            "building:levels",
            "building:use",
            "roof:levels",
            "height",
            "start_date",
            "name",
            "amenity",
            "shop",
            "parking",
            "capacity",
            "access",
            "addr:housenumber",
            "addr:street",
            "addr:place",
            "addr:postcode",
            "addr:city",
        }
    )
}


def _is_interesting_area(tags: Mapping[str, str]) -> bool:
    if "building" in tags or "amenity" in tags or "shop" in tags:
        return True
    return not tags.keys().isdisjoint(TAXONOMY_KEYS) or any(
        tags.get(k) in v for k, v in (*_PARK_TAGS.items(), *_WATER_TAGS.items())
    )


def _read_any_order(path: Path) -> _Raw:
    """Read ``path`` in one pass when its objects are sorted, else a sorted copy of it.

    A file is read as it is unless libosmium refuses its order (Overpass's quadtile order), its
    ways cite nodes that are in the file after them (or have negative ids, JOSM's new objects),
    or it is a JOSM save with deleted objects. The sorted copy is a PBF in a temporary folder
    removed on return; sorted files never pay for it.
    """
    josm = _osm_order.is_josm(path)
    deleted = _osm_order.deleted_objects(path) if josm else set()
    if not deleted:
        try:
            raw = _read_raw(path)
        except RuntimeError as err:
            if not _osm_order.is_order_error(err):
                raise
        else:
            if not _resolvable_in_order(raw):
                return raw
        if _osm_order.is_xml(path) and not josm:
            deleted = _osm_order.deleted_objects(path)
    log.info("%s: objects not sorted by type and id, reading a sorted copy", path)
    with tempfile.TemporaryDirectory(prefix="qet-osm-sort-") as folder:
        raw = _read_raw(_osm_order.normalized_copy(path, Path(folder), deleted=deleted))
    _restore_new_ids(raw)
    return raw


def _resolvable_in_order(raw: _Raw) -> bool:
    """Whether references the pass left unresolved are nodes placed after their ways or new
    objects (negative ids): a sorted copy resolves them; a clipped extract's stay missing."""
    return raw.late_nodes or any(ref < 0 for ref in raw.missing_refs)


def _restore_new_ids(raw: _Raw) -> None:
    """Give the objects :func:`_osm_order.normalized_copy` renumbered their negative ids back."""
    back = _osm_order.original_id

    def key(k: str) -> str:
        return f"{k[0]}{back(int(k[1:]))}"

    raw.hw_ids = [back(i) for i in raw.hw_ids]
    refs = raw.hw_refs
    raw.hw_refs = np.where(
        refs > _osm_order.NEW_ID_OFFSET, _osm_order.NEW_ID_OFFSET - refs, refs
    ).astype(np.int64)
    raw.pt_keys = [key(k) for k in raw.pt_keys]
    raw.area_keys = [key(k) for k in raw.area_keys]
    raw.missing_refs = {back(i) for i in raw.missing_refs}
    ids = raw.way_ids
    raw.way_ids = np.where(ids > _osm_order.NEW_ID_OFFSET, _osm_order.NEW_ID_OFFSET - ids, ids)


def _read_raw(path: Path) -> _Raw:
    """Read ``path`` in one pass (two with the relations' pass of the areas).

    A complete extract is read with the node locations checked by libosmium, which stops at
    the first way citing a node absent from the file; only then is the file read again with
    every way's nodes checked one way at a time, to say which nodes and ways are missing (a
    clipped extract; a file whose nodes come after their ways). Most files are complete, and
    checking each way cost a building about as much as reading it.
    """
    try:
        return _read_pass(path, strict=True)
    except KeyError as err:
        if _MISSING_LOCATION not in str(err):
            raise
    log.info("%s: some ways cite nodes absent from the file, reading it again", path)
    return _read_pass(path, strict=False)


#: What libosmium's ``NodeLocationsForWays`` says of a way citing a node it has not seen.
_MISSING_LOCATION = "location for one or more nodes not found"


def _objects(
    path: Path, locations: osmium.index.LocationTable, *, strict: bool, filtered: Any
) -> Iterator[Any]:
    """The objects of ``path`` as ``osmium.FileProcessor(path).with_areas().with_filter(
    KeyFilter(*_READ_KEYS)).handler_for_filtered(filtered)`` gives them (pyosmium 4), with its
    node locations kept in ``locations``; with ``strict``, a way citing a node absent from the
    file raises ``KeyError`` (the processor ignores it, leaving the location invalid)."""
    keys = osmium.filter.KeyFilter(*_READ_KEYS)
    located = osmium.NodeLocationsForWays(locations)
    if not strict:
        located.ignore_errors()
    areas = osmium.area.AreaManager()
    pool = osmium.io.ThreadPool()
    with osmium.io.Reader(str(path), osmium.osm.RELATION, thread_pool=pool) as reader:
        osmium.apply(reader, areas.first_pass_handler())
    assembled = osmium.BufferIterator(keys)
    # every handler is held here while the iterator runs: it keeps no reference to them
    second_pass = areas.second_pass_to_buffer(assembled)
    with osmium.io.Reader(str(path), osmium.osm.ALL, thread_pool=pool) as reader:
        objects = osmium.OsmFileIterator(reader, located, second_pass, keys)
        objects.set_filtered_handler(filtered)
        for obj in objects:
            yield obj
            if assembled:
                yield from assembled
    if assembled:
        yield from assembled


def _read_pass(path: Path, *, strict: bool) -> _Raw:
    raw = _Raw()
    wkb = osmium.geom.WKBFactory()
    locations = osmium.index.create_map("flex_mem")
    # untagged objects never reach the loop; untagged ways are only remembered by id
    counter = _WaySeen(raw, None if strict else wkb)
    processor = _objects(path, locations, strict=strict, filtered=counter)
    members: list[list[int]] = []  # the member ways of the areas' relations
    node_cls, way_cls, area_cls = osmium.osm.Node, osmium.osm.Way, osmium.osm.Area
    add_way_id = raw.way_ids.append
    add_ref, add_x, add_y = raw.hw_refs.append, raw.hw_x.append, raw.hw_y.append
    add_size, add_hw_id, add_hw_tags = raw.hw_sizes.append, raw.hw_ids.append, raw.hw_tags.append
    add_area_key, add_area_tags = raw.area_keys.append, raw.area_tags.append
    add_wkb, add_wkb_len = raw.area_wkb.extend, raw.area_len.append
    add_pt_key, add_pt_tags = raw.pt_keys.append, raw.pt_tags.append
    add_building_at, add_building_row = raw.building_at.append, raw.building_rows.append
    add_point_area, add_park, add_water = raw.point_areas.append, raw.parks.append, raw.water.append
    point_keys, parks, water = _POINT_LAYER_KEYS, _PARK_TAGS, _WATER_TAGS
    n_areas = 0
    add_lon, add_lat = raw.pt_lon.append, raw.pt_lat.append
    kept = _KEPT_TAGS
    for obj in processor:
        if isinstance(obj, area_cls):
            # the tags of _KEPT_TAGS (their keys shared: one string per key, not per object)
            tags = kept_tags(obj, kept)
            if not _is_interesting_area(tags):
                continue
            if tags.get("highway") and "building" not in tags and "amenity" not in tags:
                continue  # pedestrian squares are handled as highways
            try:
                geom = wkb.create_multipolygon(obj)
            except RuntimeError:
                raw.closed_ways_missing += 1
                continue
            add_area_key(f"w{obj.orig_id()}" if obj.from_way() else f"r{obj.orig_id()}")
            add_area_tags(tags)
            add_wkb(bytes.fromhex(geom))  # the WKB as bytes (libosmium writes it as hex)
            add_wkb_len(len(geom) // 2)
            value = tags.get("building", "no")
            if value != "no":
                add_building_at(n_areas)
                add_building_row(_building_row(tags, value))
            keys = tags.keys()
            if not keys.isdisjoint(point_keys):
                add_point_area(n_areas)
            if not keys.isdisjoint(parks) and (kind := _kind(tags, parks)):
                add_park((n_areas, kind))
            if not keys.isdisjoint(water) and (kind := _kind(tags, water)):
                add_water((n_areas, kind))
            n_areas += 1
        elif isinstance(obj, way_cls):
            way_tags = obj.tags
            add_way_id(obj.id)
            if "highway" not in way_tags:
                if not strict:  # else libosmium has checked every location
                    _check_locations(obj, raw, wkb)
                continue
            # the coordinates as libosmium holds them (x, y: no check, no float per node); an
            # invalid location (a node absent from the file) is told apart in numpy below
            size = 0
            for n in way_nodes(obj):
                loc = n.location
                add_ref(n.ref)
                add_x(loc.x)
                add_y(loc.y)
                size += 1
            add_size(size)
            add_hw_id(obj.id)
            add_hw_tags(kept_tags(obj, _WAY_TAGS_KEPT))
        elif isinstance(obj, node_cls):
            tags = kept_tags(obj, kept)
            if _point_key(tags):
                loc = obj.location
                add_pt_key(f"n{obj.id}")
                add_pt_tags(tags)
                add_lon(loc.lon)
                add_lat(loc.lat)
        elif isinstance(obj, osmium.osm.Relation):
            rel_tags = all_tags(obj)
            if rel_tags.get("type") in ("multipolygon", "boundary") and _is_interesting_area(
                rel_tags
            ):
                members.append([m.ref for m in obj.members if m.type == "w"])
    _highway_missing(raw)
    # counted once every way is known: an unsorted file may give a relation before its ways
    raw.way_ids = np.concatenate(
        [np.frombuffer(raw.way_ids, dtype=np.int64), np.frombuffer(counter.way_ids, np.int64)]
    )
    if members:
        refs = np.fromiter(itertools.chain.from_iterable(members), dtype=np.int64)
        of = np.repeat(np.arange(len(members)), [len(m) for m in members])
        absent = ~np.isin(refs, raw.way_ids)
        raw.missing_members += int(np.count_nonzero(absent))
        raw.relations_missing += len(np.unique(of[absent]))
    # a node the location index holds but a way could not find came after that way
    raw.late_nodes = any(_located(locations, ref) for ref in raw.missing_refs)
    return raw


def _highway_missing(raw: _Raw) -> None:
    """Turn the highways' arrays into numpy arrays and count their nodes absent from the file."""
    raw.hw_sizes = np.frombuffer(raw.hw_sizes, dtype=np.int64)
    raw.hw_refs = np.frombuffer(raw.hw_refs, dtype=np.int64)
    x = np.frombuffer(raw.hw_x, dtype=np.int64)
    y = np.frombuffer(raw.hw_y, dtype=np.int64)
    valid = (np.abs(x) <= _MAX_X) & (np.abs(y) <= _MAX_Y)
    raw.hw_x, raw.hw_y = x, y
    if valid.all():
        return
    raw.missing_refs.update(raw.hw_refs[~valid].tolist())
    starts = np.cumsum(raw.hw_sizes) - raw.hw_sizes
    invalid_per_way = np.add.reduceat((~valid).astype(np.int64), starts[raw.hw_sizes > 0])
    raw.ways_missing += int(np.count_nonzero(invalid_per_way))


def _located(locations: osmium.index.LocationTable, ref: int) -> bool:
    try:
        locations.get(ref)
    except KeyError:
        return False
    return True


class _WaySeen:
    """Record the ids of the ways filtered out (multipolygon members...) and their missing nodes."""

    def __init__(self, raw: _Raw, wkb: osmium.geom.WKBFactory | None) -> None:
        """``wkb`` None: the nodes are known to be present (libosmium checks them)."""
        self.way_ids: Any = array("q")
        self._raw = raw
        self._wkb = wkb

    def way(self, w: osmium.osm.Way) -> None:
        self.way_ids.append(w.id)
        if self._wkb is not None:
            _check_locations(w, self._raw, self._wkb)


def _check_locations(way: osmium.osm.Way, raw: _Raw, wkb: osmium.geom.WKBFactory) -> None:
    """Count the node references of ``way`` that have no node in the file."""
    # libosmium checks every location in C++ (ALL: its default skips the invalid ones, so a way
    # with two present nodes passed); Python only looks closer on failure
    try:
        wkb.create_linestring(way, use_nodes=osmium.geom.ALL)
    except Exception:  # an invalid location, or a degenerate way
        absent = [n.ref for n in way_nodes(way) if not n.location.valid()]
        if absent:
            raw.missing_refs.update(absent)
            raw.ways_missing += 1
            if way.is_closed():
                raw.closed_ways_missing += 1


def _point_key(tags: Mapping[str, str]) -> bool:
    return (
        not tags.keys().isdisjoint(TAXONOMY_KEYS)
        or tags.get("amenity") == "parking"
        or "addr:housenumber" in tags
    )


# --------------------------------------------------------------------------------------------
# assembling the layers


def _empty_layer(columns: Iterable[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in columns},
        geometry=gpd.GeoSeries([], crs=WORK_CRS),
        crs=WORK_CRS,
    )


def _lonlat_to_l93(xy: np.ndarray) -> np.ndarray:
    """Project an ``(n, 2)`` array of lon/lat to Lambert-93 (what :func:`_to_l93` does to the
    coordinates of geometries, so the numbers are the same)."""
    return np.column_stack(_TO_L93.transform(xy[:, 0], xy[:, 1]))


def _to_l93(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(
        geoms, lambda xy: np.column_stack(_TO_L93.transform(xy[:, 0], xy[:, 1]))
    )


def _assemble(path: Path, raw: _Raw) -> OsmData:
    area_keys, area_tags = raw.area_keys, raw.area_tags
    wkb_len = np.frombuffer(raw.area_len, dtype=np.int64)
    pt_keys, pt_tags = raw.pt_keys, raw.pt_tags
    pt_lonlat = np.column_stack(
        [np.frombuffer(raw.pt_lon, dtype=float), np.frombuffer(raw.pt_lat, dtype=float)]
    ).reshape(-1, 2)
    # the extent is taken in lon/lat, before the areas are projected
    bounds = _header_box(path) or _lonlat_extent(
        raw, area_keys, area_tags, shapely.from_wkb(wkb_list(raw.area_wkb, wkb_len)), pt_lonlat
    )
    if not np.isfinite(bounds).all():
        raise EmptyDataError(
            msg("{path} ne contient aucun objet localisé : l'extrait est vide.", path=path),
            path=path,
        )
    area_geoms = multipolygons(raw.area_wkb, wkb_len, _lonlat_to_l93)
    raw.area_wkb = bytearray()  # the WKB is no longer needed
    if len(area_geoms):
        # only the invalid areas are remade (make_valid gives a valid one back unchanged)
        invalid = ~shapely.is_valid(area_geoms)
        if invalid.any():
            area_geoms[invalid] = shapely.make_valid(area_geoms[invalid])
    pt_geoms = cast(np.ndarray, shapely.points(_lonlat_to_l93(pt_lonlat)))

    buildings = _buildings(
        area_keys, np.frombuffer(raw.building_at, dtype=np.int64), raw.building_rows, area_geoms
    )
    points: _Source = (pt_keys, pt_tags, pt_geoms)
    # the areas a point layer may take (most buildings have none of their keys)
    some = np.frombuffer(raw.point_areas, dtype=np.int64).tolist()
    areas: _Source = ([area_keys[i] for i in some], [area_tags[i] for i in some], area_geoms[some])
    amenities = _point_features(
        points, areas, _amenity_row, ("category", "tag", "name", "from_area"), TAXONOMY_KEYS
    )
    transit = _transit_stops(amenities)
    parking = _point_features(
        points, areas, _parking_row, ("parking", "capacity", "access", "area_m2"), ("amenity",)
    )
    parks = _areas_matching(area_keys, area_tags, area_geoms, raw.parks, "park_type")
    water = _areas_matching(area_keys, area_tags, area_geoms, raw.water, "water_type")
    addresses = _point_features(
        points,
        areas,
        _address_row,
        ("housenumber", "street", "postcode", "city", "building_key"),
        ("addr:housenumber",),
    )
    highways = _highway_parts(raw)
    cycleways = _cycleways(highways)

    missing = MissingReport(
        missing_nodes=len(raw.missing_refs),
        ways_affected=raw.ways_missing,
        missing_members=raw.missing_members,
        relations_affected=raw.relations_missing,
        areas_lost=raw.closed_ways_missing + raw.relations_missing,
    )
    log.info("read %s: %d buildings, %d amenities", path, len(buildings), len(amenities))
    return OsmData(
        path=str(path),
        bounds=(float(bounds[0]), float(bounds[1]), float(bounds[2]), float(bounds[3])),
        buildings=buildings,
        amenities=amenities,
        transit_stops=transit,
        cycleways=cycleways,
        parking=parking,
        parks=parks,
        water=water,
        addresses=addresses,
        highways=highways,
        missing=missing,
    )


def _header_box(path: Path) -> tuple[float, float, float, float] | None:
    """The box the file's header states (``<bounds>`` in XML, the PBF header's bbox), if any.

    It is the area the extract was cut to (``osmium extract``, the OSM API, Overpass with a
    global bbox): what the extract claims to hold in full, while the ways that cross its edge
    run past it.
    """
    try:
        box = osmium.FileProcessor(str(path), osmium.osm.NOTHING).header.box()
    except RuntimeError:  # an unreadable header: the node extent will do
        return None
    if not box.valid():
        return None
    left, bottom = box.bottom_left.lon, box.bottom_left.lat
    right, top = box.top_right.lon, box.top_right.lat
    if not (-180 <= left < right <= 180 and -90 <= bottom < top <= 90):
        return None  # a degenerate box (one node) or a world box says nothing of the extract
    return (float(left), float(bottom), float(right), float(top))


def _lonlat_extent(
    raw: _Raw,
    area_keys: list[str],
    area_tags: list[dict[str, str]],
    area_ll: np.ndarray,
    pt_lonlat: np.ndarray,
) -> tuple[float, float, float, float]:
    """The extent of the extract when its header states no box: its buildings', else its
    nodes' (see :func:`_building_extent` and :func:`_node_extent`)."""
    return _building_extent(area_keys, area_tags, area_ll) or _node_extent(
        raw, cast(np.ndarray, shapely.points(pt_lonlat)), area_ll, area_keys
    )


#: Fewest buildings drawn by ways for their extent to stand for the extract's when its header
#: states no box (below it, the node extent).
MIN_BUILDINGS_FOR_EXTENT = 20


def _building_extent(
    area_keys: list[str], area_tags: list[dict[str, str]], area_ll: np.ndarray
) -> tuple[float, float, float, float] | None:
    """The extent of the buildings drawn by ways, when the header states no box.

    An extract cut with ``osmium extract`` keeps the streets that cross its edge whole (the
    default ``complete_ways`` strategy): a street or a river runs kilometres past the area cut
    (Lorient centre's PBF: 31.3 km² of nodes for a 2.1 km² cut). Buildings are small: a
    building crossing the edge passes it by a few metres, so their extent is the cut's within a
    building's size (Lorient 2.4 km² for a 2.1 km² box; Nantes 0.16 for 0.12; Pont-de-Veyle 3.8
    for 3.7). None with fewer than :data:`MIN_BUILDINGS_FOR_EXTENT` of them.
    """
    idx = [
        i
        for i, (k, t) in enumerate(zip(area_keys, area_tags, strict=True))
        if k.startswith("w") and t.get("building", "no") != "no"
    ]
    if len(idx) < MIN_BUILDINGS_FOR_EXTENT:
        return None
    left, bottom, right, top = shapely.total_bounds(area_ll[idx]).tolist()
    return (float(left), float(bottom), float(right), float(top))


def _node_extent(
    raw: _Raw, pt_ll: np.ndarray, area_ll: np.ndarray, area_keys: list[str]
) -> tuple[float, float, float, float]:
    """The extent of the extract's nodes: tagged nodes, the nodes of its streets and of the
    areas drawn by its ways.

    The areas of relations are left out: a relation's member ways may lie far from the extract
    (an Overpass recursion brings them whole), and a multipolygon of a forest or a commune
    stretched the extract's own territory to kilometres of empty land.
    """
    from_way = np.fromiter((k.startswith("w") for k in area_keys), dtype=bool, count=len(area_keys))
    parts: list[np.ndarray] = [np.atleast_1d(pt_ll), np.atleast_1d(area_ll)[from_way]]
    lon, lat = _hw_lonlat(raw)
    ok = np.isfinite(lon)
    if ok.any():
        parts.append(
            np.atleast_1d(cast(np.ndarray, shapely.points(np.column_stack([lon[ok], lat[ok]]))))
        )
    left, bottom, right, top = shapely.total_bounds(np.concatenate(parts)).tolist()
    return (float(left), float(bottom), float(right), float(top))


def _frame(keys: list[str], columns: Mapping[str, Any], geoms: Any) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(dict(columns), geometry=gpd.GeoSeries(geoms, crs=WORK_CRS), crs=WORK_CRS)
    gdf.index = pd.Index(keys, name="osm_key")
    return gdf


def _building_row(tags: Mapping[str, str], value: str) -> tuple[Any, ...]:
    """What :func:`_buildings` takes of a building's tags (``value``: its ``building`` tag)."""
    untyped = value == "yes"
    return (
        value,
        tags.get("building:levels"),
        tags.get("roof:levels"),
        tags.get("height"),
        tags.get("start_date"),
        tags.get("name"),
        tags.get("amenity"),
        tags.get("shop"),
        value in _RESIDENTIAL_BUILDINGS,
        untyped and tags.get("building:use") in _HOME_USES,
        untyped and tags.keys().isdisjoint(_NON_HOME_KEYS),
    )


def _buildings(
    keys: list[str], idx: np.ndarray, rows: list[tuple[Any, ...]], geoms: np.ndarray
) -> gpd.GeoDataFrame:
    """The buildings layer: the areas at ``idx``, their :func:`_building_row` in ``rows``."""
    cols = [
        "building",
        "levels",
        "height_m",
        "start_date",
        "residential",
        "footprint_m2",
        "floor_area_m2",
        "name",
        "amenity",
        "shop",
    ]
    if not len(idx):
        return _empty_layer(cols)
    (building, levels_s, roof_s, height_s, start, name, amenity, shop, typed, used, plain) = (
        list(c) for c in zip(*rows, strict=True)
    )
    g = geoms[idx]
    area = shapely.area(g)
    levels, roof, height = _numbers(levels_s), _numbers(roof_s), _numbers(height_s)
    # levels: tagged, else from the height (3 m a storey), else 1; roof levels count half
    est_levels = np.where(np.isnan(levels), np.round(height / 3.0), levels)
    est_levels = np.where(np.isnan(est_levels) | (est_levels < 1), 1.0, est_levels)
    est_levels = est_levels + np.where(np.isnan(roof), 0.0, 0.5 * roof)
    # _is_residential a column at a time (tested equal): a home type, else an untyped building
    # that its use says is a home, or that carries no key of another use and is large enough
    residential = (
        np.asarray(typed, dtype=bool)
        | np.asarray(used, dtype=bool)
        | (np.asarray(plain, dtype=bool) & (area >= MIN_HOME_AREA_M2))
    )
    return _frame(
        [keys[i] for i in idx.tolist()],
        {
            "building": building,
            "levels": levels,
            "height_m": height,
            "start_date": start,
            "residential": residential,
            "footprint_m2": area,
            "floor_area_m2": area * est_levels,
            "name": name,
            "amenity": amenity,
            "shop": shop,
        },
        g,
    )


#: The ``building:use`` values that make an untyped building a home.
_HOME_USES = _RESIDENTIAL_BUILDINGS | {"residential"}


def _numbers(values: list[str | None]) -> np.ndarray:
    """:func:`_first_number` of each value (NaN where there is none)."""
    out = np.full(len(values), np.nan)
    have = [i for i, v in enumerate(values) if v]
    if have:
        out[have] = [_first_number_of(values[i]) for i in have]
    return out


#: :func:`_first_number` remembered per value (levels and heights take a few values each).
_first_number_of = functools.lru_cache(maxsize=4096)(lambda value: _first_number(value))


def _is_residential(tags: Mapping[str, str], area: float) -> bool:
    """Decide whether a building holds homes.

    Explicit home types are homes; explicit other types are not; ``building=yes`` is a home when it
    is at least :data:`MIN_HOME_AREA_M2` and carries no amenity, shop, office, tourism, leisure,
    craft or man-made tag (in French town centres most untyped buildings are flats over shops, so a
    ``shop`` tag on the building itself is the one that says otherwise).
    """
    value = tags.get("building", "yes")
    if value in _RESIDENTIAL_BUILDINGS:
        return True
    if value in _NON_RESIDENTIAL_BUILDINGS:
        return False
    if value != "yes":
        return False
    if (
        tags.get("building:use") in _RESIDENTIAL_BUILDINGS
        or tags.get("building:use") == "residential"
    ):
        return True
    if not tags.keys().isdisjoint(_NON_HOME_KEYS):
        return False
    return area >= MIN_HOME_AREA_M2


# A feature source: the keys, tags and geometries of the point or area objects read.
_Source = tuple[list[str], list[dict[str, str]], np.ndarray]
_RowOf = Callable[[Mapping[str, str], str, shapely.Geometry, bool], dict[str, object] | None]


def _point_features(
    points: _Source,
    areas: _Source,
    row_of: _RowOf,
    columns: Iterable[str],
    needs: Iterable[str],
) -> gpd.GeoDataFrame:
    """Build a point layer from nodes and areas: ``row_of(tags, key, geometry, is_area)`` gives a
    feature's attributes, or None to skip it; areas become a point inside them. Only the objects
    with one of the keys ``needs`` at least are given to ``row_of`` (it skips the others)."""
    keys: list[str] = []
    rows: list[dict[str, object]] = []
    geoms: list[shapely.Geometry] = []
    from_points = 0
    for (ks, tags, gs), is_area in ((points, False), (areas, True)):
        for i in [i for i, t in enumerate(tags) if not t.keys().isdisjoint(needs)]:
            key, t, geom = ks[i], tags[i], gs[i]
            row = row_of(t, key, geom, is_area)
            if row is None:
                continue
            keys.append(key)
            rows.append(row)
            geoms.append(geom)
        if not is_area:
            from_points = len(keys)
    columns = list(columns)
    if not keys:
        return _empty_layer(columns)
    table = {c: [r[c] for r in rows] for c in columns}
    located = np.asarray(geoms, dtype=object)
    # a point inside each area (the points are their own)
    located[from_points:] = shapely.point_on_surface(located[from_points:])
    return _frame(keys, table, located)


def _amenity_row(
    tags: Mapping[str, str], key: str, geom: shapely.Geometry, is_area: bool
) -> dict[str, object] | None:
    found = classify(tags)
    if found is None:
        return None
    return {"category": found[0], "tag": found[1], "name": tags.get("name"), "from_area": is_area}


def _address_row(
    tags: Mapping[str, str], key: str, geom: shapely.Geometry, is_area: bool
) -> dict[str, object] | None:
    """House-number addresses (``addr:*`` on nodes and on buildings), for geocoding."""
    number = tags.get("addr:housenumber")
    street = tags.get("addr:street") or tags.get("addr:place")
    if not number or not street:
        return None
    return {
        "housenumber": number,
        "street": street,
        "postcode": tags.get("addr:postcode"),
        "city": tags.get("addr:city"),
        "building_key": key if is_area and "building" in tags else None,
    }


def _parking_row(
    tags: Mapping[str, str], key: str, geom: shapely.Geometry, is_area: bool
) -> dict[str, object] | None:
    if tags.get("amenity") != "parking":
        return None
    return {
        "parking": tags.get("parking", "surface"),
        "capacity": _first_number(tags.get("capacity")),
        "access": tags.get("access"),
        "area_m2": float(shapely.area(geom)),
    }


def _transit_stops(amenities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    stops = amenities[amenities["category"].isin(["transit_stop", "rail_station"])].copy()
    mode = np.where(
        stops["category"] == "rail_station",
        "rail",
        np.where(stops["tag"].str.startswith("railway=tram"), "tram", "bus"),
    )
    stops["mode"] = mode
    return stops[["mode", "tag", "name", "geometry"]]


def _kind(tags: Mapping[str, str], table: Mapping[str, set[str]]) -> str | None:
    """The value of the first key of ``table`` whose values ``tags`` has (a park's, water's)."""
    for k, values in table.items():
        if tags.get(k) in values:
            return tags[k]
    return None


def _areas_matching(
    keys: list[str],
    tags: list[dict[str, str]],
    geoms: np.ndarray,
    found: list[tuple[int, str]],
    column: str,
) -> gpd.GeoDataFrame:
    """The layer of the areas ``found`` (their indices and :func:`_kind`)."""
    if not found:
        return _empty_layer([column, "name"])
    idx = [i for i, _ in found]
    return _frame(
        [keys[i] for i in idx],
        {column: [kind for _, kind in found], "name": [tags[i].get("name") for i in idx]},
        geoms[idx],
    )


def _hw_lonlat(raw: _Raw) -> tuple[np.ndarray, np.ndarray]:
    """The highways' node coordinates in degrees, NaN for a node absent from the file: the
    floats libosmium's ``Location.lon`` and ``.lat`` give, bit for bit."""
    x, y = raw.hw_x, raw.hw_y
    valid = (np.abs(x) <= _MAX_X) & (np.abs(y) <= _MAX_Y)
    lon = np.where(valid, x / _COORD_PRECISION, np.nan)
    lat = np.where(valid, y / _COORD_PRECISION, np.nan)
    return lon, lat


def _highway_parts(raw: _Raw) -> pd.DataFrame:
    """Split highway ways into runs of present nodes; one row per run, coordinates in EPSG:2154.

    A run's ``part`` is its rank among its way's runs (a way whose nodes are all present is one
    run, part 0); runs of fewer than two nodes are left out (their rank is still counted).
    ``refs`` and ``xy`` of the rows are views into two arrays of every node kept.
    """
    sizes = np.asarray(raw.hw_sizes, dtype=np.int64)
    refs = np.asarray(raw.hw_refs, dtype=np.int64)
    lon, lat = _hw_lonlat(raw)
    valid = ~np.isnan(lon)
    way_of = np.repeat(np.arange(len(sizes)), sizes)
    first = np.zeros(len(refs), dtype=bool)
    first[(np.cumsum(sizes) - sizes)[sizes > 0]] = True
    # a run starts at a present node that begins its way or follows an absent one
    prev_valid = np.concatenate([[False], valid[:-1]])
    run_start = valid & (first | ~prev_valid)
    starts = np.flatnonzero(run_start)
    run_way = way_of[starts]
    # a run ends where the next node is absent or belongs to another way
    ends = np.empty(len(starts), dtype=np.int64)
    if len(starts):
        stop = ~valid | first  # a node that stops the run before it
        stop_at = np.flatnonzero(np.concatenate([stop[1:], [True]])) + 1
        ends = stop_at[np.searchsorted(stop_at, starts, side="right")]
        # the index after the run's last node: the first stopping node after its start
    runs_before = np.concatenate([[0], np.cumsum(np.bincount(run_way, minlength=len(sizes)))])
    part = np.arange(len(starts)) - runs_before[run_way]
    keep = ends - starts >= 2
    starts, ends, run_way, part = starts[keep], ends[keep], run_way[keep], part[keep]
    # the kept nodes, projected at once, and each run a view of them
    n_pts = ends - starts
    take = np.repeat(starts - np.concatenate([[0], np.cumsum(n_pts)[:-1]]), n_pts) + np.arange(
        n_pts.sum()
    )
    xy = np.empty((len(take), 2), dtype=float)
    if len(take):
        x, y = _TO_L93.transform(lon[take], lat[take])
        xy[:, 0], xy[:, 1] = x, y
    bounds = np.concatenate([[0], np.cumsum(n_pts)])
    kept_refs = refs[take]
    ids, tags = raw.hw_ids, raw.hw_tags
    return pd.DataFrame(
        {
            "way_id": [ids[w] for w in run_way.tolist()],
            "part": part.tolist(),
            "tags": [tags[w] for w in run_way.tolist()],
            "refs": [kept_refs[a:b] for a, b in itertools.pairwise(bounds.tolist())],
            "xy": [xy[a:b] for a, b in itertools.pairwise(bounds.tolist())],
        }
    )


def _cycleways(highways: pd.DataFrame) -> gpd.GeoDataFrame:
    keys: list[str] = []
    kinds: list[str] = []
    names: list[str | None] = []
    lines: list[np.ndarray] = []
    for way_id, part, tags, xy in zip(
        highways["way_id"], highways["part"], highways["tags"], highways["xy"], strict=True
    ):
        kind = _cycle_kind(tags)
        if kind is None:
            continue
        keys.append(f"w{way_id}" if part == 0 else f"w{way_id}.{part}")
        kinds.append(kind)
        names.append(tags.get("name"))
        lines.append(xy)
    if not keys:
        return _empty_layer(["cycle_type", "highway", "name"])
    geoms = shapely.linestrings(
        np.concatenate(lines), indices=np.repeat(np.arange(len(lines)), [len(x) for x in lines])
    )
    return _frame(keys, {"cycle_type": kinds, "name": names}, geoms)


def _cycle_kind(tags: Mapping[str, str]) -> str | None:
    """Classify a way as cycle infrastructure: ``track``, ``lane``, ``shared`` or None."""
    highway = tags.get("highway")
    if highway == "cycleway":
        return "track"
    if highway in ("path", "footway", "pedestrian") and tags.get("bicycle") == "designated":
        return "track"
    for key in ("cycleway", "cycleway:both", "cycleway:left", "cycleway:right"):
        value = tags.get(key)
        if value in ("track", "opposite_track"):
            return "track"
        if value in ("lane", "opposite_lane"):
            return "lane"
    for key in ("cycleway", "cycleway:both", "cycleway:left", "cycleway:right"):
        if tags.get(key) in ("share_busway", "shared_lane", "opposite"):
            return "shared"
    return None


# --------------------------------------------------------------------------------------------
# street graphs


def _keeps(tags: Mapping[str, str], network_type: str) -> bool:
    if tags.get("area") is not None and "yes" in tags["area"]:
        return False
    if _ACCESS_PRIVATE.search(tags.get("access", "")):
        return False
    for key, pattern in _NETWORK_EXCLUDE[network_type].items():
        value = tags.get(key)
        if value is not None and pattern.search(value):
            return False
    return True


def _oneway(tags: Mapping[str, str], network_type: str) -> int:
    """Return 0 (two-way), 1 (oneway forward) or -1 (oneway backward) for ``network_type``.

    Walking ignores oneways (osmnx convention); cycling respects them unless ``oneway:bicycle=no``
    or a contraflow lane is tagged.
    """
    if network_type == "walk":
        return 0
    if network_type == "bike":
        if tags.get("oneway:bicycle") == "no":
            return 0
        if any(
            str(tags.get(k, "")).startswith("opposite")
            for k in ("cycleway", "cycleway:left", "cycleway:right", "cycleway:both")
        ):
            return 0
    value = tags.get("oneway")
    if value in ("yes", "true", "1"):
        return 1
    if value in ("-1", "reverse"):
        return -1
    if value is None and (
        tags.get("junction") in ("roundabout", "circular") or tags.get("highway") == "motorway"
    ):
        return 1
    return 0


def street_graph(
    data: OsmData, *, network_type: NetworkType = "walk"
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Build the street graph of an extract as osmnx's ``(nodes, edges)`` GeoDataFrames.

    The graph is osmnx's simplified topology: nodes are way ends and the OSM nodes shared by two
    or more ways (intersections); each edge follows one way between two such nodes, with the way's
    geometry. Way selection follows osmnx's filter for ``network_type``. Every connected component
    is kept (the accessibility engine handles them one by one).

    Parameters
    ----------
    data
        Layers read by :func:`read_osm`.
    network_type
        "walk" (oneways ignored, both directions), "bike" (oneways respected unless cycling is
        allowed against them) or "drive".

    Returns
    -------
    nodes : GeoDataFrame
        Indexed by ``osmid``, with ``x``, ``y`` and ``street_count`` (number of street ends meeting
        there), EPSG:2154.
    edges : GeoDataFrame
        MultiIndex ``(u, v, key)``; columns ``osmid`` (way id), ``highway``, ``name``, ``oneway``,
        ``reversed``, ``length`` (m) and the LineString from u to v, EPSG:2154. A two-way street
        is two edges (u→v, v→u), as in osmnx.
    """
    if network_type not in NETWORK_TYPES:
        raise ValidationError(
            msg(
                "Type de réseau {network_type!r} inconnu : utilisez walk, bike ou drive.",
                network_type=network_type,
                NETWORK_TYPES=NETWORK_TYPES,
            )
        )
    hw = data.highways
    keep = np.fromiter((_keeps(t, network_type) for t in hw["tags"]), dtype=bool, count=len(hw))
    hw = hw[keep]
    if hw.empty:
        raise EmptyDataError(
            msg(
                "{path} : aucune rue utilisable pour le réseau {network_type} dans l'extrait.",
                path=data.path,
                network_type=network_type,
            ),
            path=data.path,
        )
    lengths = np.fromiter((len(r) for r in hw["refs"]), dtype=np.int64, count=len(hw))
    refs = np.concatenate(hw["refs"].to_numpy())
    xy = np.concatenate(hw["xy"].to_numpy())
    part_of = np.repeat(np.arange(len(hw)), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    ends = starts + lengths - 1
    is_end = np.zeros(len(refs), dtype=bool)
    is_end[starts] = True
    is_end[ends] = True
    # a node is a graph node when it ends a way or is used more than once (shared or a loop)
    uniq, inverse, counts = np.unique(refs, return_inverse=True, return_counts=True)
    end_nodes = np.zeros(len(uniq), dtype=bool)
    end_nodes[inverse[is_end]] = True
    is_graph_node = (counts > 1) | end_nodes
    split = is_graph_node[inverse]

    # street_count: how many way-ends meet at each node (osmnx's definition, undirected)
    deg = np.zeros(len(uniq), dtype=np.int64)
    np.add.at(deg, inverse[split & ~is_end], 2)
    np.add.at(deg, inverse[is_end], 1)

    # segment the flat node list into edges between consecutive graph nodes of the same part
    pos = np.flatnonzero(split)
    same_part = part_of[pos[:-1]] == part_of[pos[1:]]
    a = pos[:-1][same_part]
    b = pos[1:][same_part]
    seg_part = part_of[a]
    # coordinates of each edge: positions a..b inclusive
    n_pts = b - a + 1
    take = np.repeat(a, n_pts) + (
        np.arange(n_pts.sum()) - np.repeat(np.cumsum(n_pts) - n_pts, n_pts)
    )
    geoms = shapely.linestrings(xy[take], indices=np.repeat(np.arange(len(a)), n_pts))
    length = shapely.length(geoms)

    tags = hw["tags"].to_numpy()[seg_part]
    way_ids = hw["way_id"].to_numpy()[seg_part]
    direction = np.fromiter(
        (_oneway(t, network_type) for t in tags), dtype=np.int8, count=len(tags)
    )
    u = refs[a]
    v = refs[b]
    fwd = direction >= 0
    bwd = direction <= 0
    rev_geoms = shapely.reverse(geoms[bwd])
    edge_u = np.concatenate([u[fwd], v[bwd]])
    edge_v = np.concatenate([v[fwd], u[bwd]])
    edge_geom = np.concatenate([geoms[fwd], rev_geoms])
    edge_len = np.concatenate([length[fwd], length[bwd]])
    edge_way = np.concatenate([way_ids[fwd], way_ids[bwd]])
    edge_tags = np.concatenate([tags[fwd], tags[bwd]])
    edge_oneway = np.concatenate([direction[fwd] != 0, direction[bwd] != 0])
    edge_rev = np.concatenate([np.zeros(fwd.sum(), bool), direction[bwd] == 0])
    # drop zero-length self loops (a way passing twice through a node with no geometry between)
    ok = ~((edge_u == edge_v) & (edge_len == 0))
    if data.mask is not None:  # a way crossing the mask keeps only its edges that reach it
        shapely.prepare(data.mask)
        ok &= shapely.intersects(data.mask, edge_geom)
    frame = pd.DataFrame(
        {
            "u": edge_u[ok],
            "v": edge_v[ok],
            "osmid": edge_way[ok],
            "highway": [t.get("highway") for t in edge_tags[ok]],
            "name": [t.get("name") for t in edge_tags[ok]],
            "oneway": edge_oneway[ok],
            "reversed": edge_rev[ok],
            "length": edge_len[ok],
        }
    )
    frame["key"] = frame.groupby(["u", "v"]).cumcount()
    edges = gpd.GeoDataFrame(
        frame, geometry=gpd.GeoSeries(edge_geom[ok], crs=WORK_CRS), crs=WORK_CRS
    ).set_index(["u", "v", "key"])
    edges = edges.sort_index()

    used = np.unique(np.concatenate([edge_u[ok], edge_v[ok]]))
    where = np.searchsorted(uniq, used)
    first_pos = np.full(len(uniq), -1, dtype=np.int64)
    first_pos[inverse[::-1]] = np.arange(len(refs))[::-1]
    node_xy = xy[first_pos[where]]
    nodes = gpd.GeoDataFrame(
        {"x": node_xy[:, 0], "y": node_xy[:, 1], "street_count": deg[where]},
        geometry=gpd.array.from_shapely(shapely.points(node_xy), crs=WORK_CRS),
        index=pd.Index(used, name="osmid"),
        crs=WORK_CRS,
    )
    return nodes, edges


# --------------------------------------------------------------------------------------------
# clipping to a territory


def highway_lines(highways: pd.DataFrame) -> np.ndarray:
    """The lines of :attr:`OsmData.highways` (EPSG:2154), one per row, built in one call."""
    xy = list(highways["xy"])
    if not xy:
        return np.empty(0, dtype=object)
    sizes = np.fromiter(map(len, xy), dtype=np.int64, count=len(xy))
    owner = np.repeat(np.arange(len(xy)), sizes)
    return np.asarray(shapely.linestrings(np.concatenate(xy), indices=owner), dtype=object)


def clip_osm(data: OsmData, mask: shapely.Geometry) -> OsmData:
    """Keep the features of ``data`` that intersect ``mask`` (a polygon in EPSG:2154).

    Raises
    ------
    DataCoverageError
        The extract does not reach the mask.
    """
    left, bottom, right, top = data.bounds
    extent = _to_l93(np.asarray([shapely.segmentize(shapely.box(left, bottom, right, top), 5e-4)]))[
        0
    ]
    if not shapely.intersects(extent, mask):
        raise DataCoverageError(
            msg(
                "{path} couvre les longitudes {left:.4f}..{right:.4f} et latitudes "
                "{bottom:.4f}..{top:.4f}, ce qui n'atteint pas le territoire. Utilisez un "
                "extrait du quartier ou vérifiez le fichier de territoire.",
                path=data.path,
                left=left,
                right=right,
                bottom=bottom,
                top=top,
            ),
            path=data.path,
        )
    shapely.prepare(mask)

    def keep(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        if gdf.empty:
            return gdf
        inside = shapely.intersects(mask, gdf.geometry.to_numpy())
        # a mask around the whole extract keeps every row: no copy (copy-on-write shares it)
        return gdf.copy(deep=False) if inside.all() else gdf[inside]

    hw = data.highways
    if not hw.empty:
        inside = shapely.intersects(mask, highway_lines(hw))
        if inside.all() and hw.index.equals(pd.RangeIndex(len(hw))):
            hw = hw.copy(deep=False)
        else:
            hw = hw.iloc[np.flatnonzero(inside)].reset_index(drop=True)
    return OsmData(
        path=data.path,
        bounds=data.bounds,
        buildings=keep(data.buildings),
        amenities=keep(data.amenities),
        transit_stops=keep(data.transit_stops),
        cycleways=keep(data.cycleways),
        parking=keep(data.parking),
        parks=keep(data.parks),
        water=keep(data.water),
        addresses=keep(data.addresses),
        highways=hw,
        missing=data.missing,
        mask=mask if data.mask is None else shapely.intersection(mask, data.mask),
    )
