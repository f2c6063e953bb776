"""What the network service does with the store, as plain functions.

The API's routes and background jobs call these, and so does the ``qet store`` command, so that
there is one implementation of each:

- :func:`territory_from_geojson` and :func:`store_extract`: the layers of a neighbourhood (its
  territory, from a GeoJSON geometry, Feature or FeatureCollection; its OSM extract, in any
  format ``qet layers`` reads, recognised by its content), validated before anything is
  replaced;
- :func:`claim_analysis` and :func:`run_analysis`: the analysis of a diagnostic as a job, with
  progress in steps and an explicit failure reason, French and English; a job whose process was
  killed is recognised by its silence (:func:`job_status`) and may be run again. The job calls
  :func:`analyse_diagnostic`, which fits the diagnostic's own usage profiles and computes the
  built-constraint indicators of its neighbourhood per 200 m cell, then writes both in one
  transaction; the per-home access tables (on foot and by bike) are kept beside the extract
  (:func:`home_access` reads them back) for the releases' links, margins of manoeuvre and
  perceived access, and the links of the would-be release are computed once
  (:func:`qet_geo.store.releases.preview_links`);
- :func:`fit_national_profiles`: the national reference profiles, fitted on the pooled answers of
  the network and stored; every respondent is given the nearest of them.

Only figures from at least 11 respondents are stored for publication (``docs/privacy.md``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from qet_geo.crs import WGS84, WORK_CRS
from qet_geo.errors import DataCoverageError, InputFileError, QetGeoError, ValidationError
from qet_geo.i18n import Msg, msg, number
from qet_geo.privacy import MIN_RESPONDENTS, DisclosureError
from qet_geo.store.ingest import assign_to_centres, respondents_frame
from qet_geo.store.models import (
    ConflictError,
    Diagnostic,
    Indicator,
    Neighbourhood,
    NotFoundError,
    Profile,
    Respondent,
    extract_path,
    territory_geometry,
)
from qet_geo.surveys.schema import USAGES

__all__ = [
    "ANALYSIS_STEPS",
    "ANALYSIS_STEP_LABELS",
    "EXTRACT_HEAD_BYTES",
    "EXTRACT_SUFFIXES",
    "JOB_TIMEOUT_S",
    "MAX_TERRITORY_KM2",
    "MIN_EXTRACT_COVERAGE",
    "AnalysisResult",
    "ExtractInfo",
    "NationalProfilesResult",
    "abandoned_message",
    "access_key",
    "analyse_diagnostic",
    "check_extract",
    "claim_analysis",
    "constraint_cells",
    "extract_suffix",
    "fit_national_profiles",
    "home_access",
    "job_status",
    "run_analysis",
    "store_extract",
    "territory_from_geojson",
    "territory_polygons",
]

logger = logging.getLogger(__name__)

#: Steps of the analysis, in order; ``Diagnostic.progress`` is the share of them done.
ANALYSIS_STEPS: tuple[str, ...] = (
    "answers",
    "profiles",
    "layers",
    "access",
    "bike",
    "zones",
    "links",
    "store",
)
#: Each step of the analysis in words, for the people who follow it.
ANALYSIS_STEP_LABELS: Mapping[str, Msg] = MappingProxyType(
    {
        "answers": msg("lecture des réponses"),
        "profiles": msg("profils d'usages"),
        "layers": msg("couches du quartier (OpenStreetMap)"),
        "access": msg("accès à pied aux équipements"),
        "bike": msg("accès à vélo aux équipements"),
        "zones": msg("contraintes par carreau de 200 m"),
        "links": msg("liens entre contraintes et usages, marges de manœuvre, thèmes du vote"),
        "store": msg("enregistrement des résultats"),
    }
)
#: Seconds without news (no step begun) after which a queued or running analysis is taken as
#: abandoned, its process killed: longer than the longest step of the largest territory.
JOB_TIMEOUT_S = 1800.0
#: Job statuses of a diagnostic whose analysis is under way.
_ACTIVE = ("queued", "running")
#: Share of the territory an uploaded OSM extract must cover.
MIN_EXTRACT_COVERAGE = 0.95
#: Largest territory accepted, km² (a neighbourhood, not a region: the analysis must stay short).
MAX_TERRITORY_KM2 = 100.0
#: Metropolitan France (EPSG:2154's domain), lon/lat: a territory must lie inside.
_FRANCE_LONLAT = (-5.8, 41.2, 10.0, 51.3)

Progress = Callable[[str, float], None]


def _message(text: Msg | QetGeoError, code: str) -> dict[str, str]:
    """The stored form of a job's message: both languages (read back by the API) and a code."""
    if isinstance(text, Msg):
        return {"en": text.render("en"), "fr": text.render("fr"), "code": code}
    return {"en": text.localized("en"), "fr": text.localized("fr"), "code": code}


# --------------------------------------------------------------------------------------------------
# layers of a neighbourhood


#: Names a GeoJSON ``crs`` member (RFC 7946's predecessor, still written by QGIS) may give WGS84.
_WGS84_CRS_NAMES = frozenset(
    {
        "urn:ogc:def:crs:ogc:1.3:crs84",
        "urn:ogc:def:crs:ogc::crs84",
        "ogc:crs84",
        "crs84",
        "urn:ogc:def:crs:epsg::4326",
        "urn:ogc:def:crs:epsg:6.6:4326",
        "epsg:4326",
    }
)
#: GeoJSON geometry types, named in messages (never another value of the body).
_GEOJSON_TYPES = frozenset(
    {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    }
)
_POLYGONAL = ("Polygon", "MultiPolygon")


def _not_a_territory() -> ValidationError:
    return ValidationError(
        msg(
            "le territoire doit être un Polygon ou MultiPolygon GeoJSON, ou une Feature ou "
            "FeatureCollection de polygones (l'export de QGIS ou de geojson.io), en WGS84 "
            "(lon, lat)."
        )
    )


def territory_polygons(geojson: Any) -> list[dict[str, Any]]:
    """Return the polygon geometries of a territory given as GeoJSON, without building them.

    Parameters
    ----------
    geojson
        A GeoJSON ``Polygon`` or ``MultiPolygon`` geometry, a ``Feature`` of one, or a
        ``FeatureCollection`` of them (what QGIS and geojson.io export), as decoded JSON.

    Returns
    -------
    list of dict
        The ``Polygon`` and ``MultiPolygon`` geometries, in order.

    Raises
    ------
    ValidationError
        Another GeoJSON object, a feature without geometry or of another type (a point, a
        line), an empty collection, or a ``crs`` other than WGS84. The message names the
        feature by its number and its GeoJSON type, never another value of the body.
    """
    if not isinstance(geojson, dict):
        raise _not_a_territory()
    kind = geojson.get("type")
    if kind in _POLYGONAL:
        return [geojson]
    if kind not in ("Feature", "FeatureCollection"):
        raise _not_a_territory()
    crs = geojson.get("crs")
    if crs is not None:
        name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
        if not (isinstance(name, str) and name.strip().lower() in _WGS84_CRS_NAMES):
            raise ValidationError(
                msg(
                    "le territoire est dans un autre système de coordonnées que WGS84 : "
                    "exportez-le en EPSG:4326 (QGIS : Exporter > Sauvegarder les entités sous, "
                    "SCR EPSG:4326) et envoyez-le à nouveau."
                )
            )
    features: Any = [geojson]
    if kind == "FeatureCollection":
        features = geojson.get("features")
        if not isinstance(features, list):
            raise _not_a_territory()
        if not features:
            raise ValidationError(
                msg(
                    "la FeatureCollection du territoire ne contient aucun objet : dessinez le "
                    "contour du quartier (un polygone) et exportez-le à nouveau."
                )
            )
    polygons = []
    for n, feature in enumerate(features, start=1):
        where = msg("la Feature") if kind == "Feature" else msg("l'objet n° {n}", n=n)
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise ValidationError(
                msg(
                    "{where} de la FeatureCollection du territoire n'est pas une Feature "
                    "GeoJSON : exportez le contour à nouveau depuis QGIS ou geojson.io.",
                    where=where,
                )
            )
        if not isinstance(geometry, dict):
            raise ValidationError(
                msg(
                    "{where} du territoire n'a pas de géométrie : dessinez le contour du "
                    "quartier (un polygone) et exportez-le à nouveau.",
                    where=where,
                )
            )
        geometry_type = geometry.get("type")
        if geometry_type not in _POLYGONAL:
            shown = geometry_type if geometry_type in _GEOJSON_TYPES else msg("objet inconnu")
            raise ValidationError(
                msg(
                    "{where} du territoire est un {kind}, pas un polygone : le territoire est "
                    "le contour du quartier, fait de polygones seulement ; retirez les points "
                    "et les lignes et envoyez-le à nouveau.",
                    where=where,
                    kind=shown,
                )
            )
        polygons.append(geometry)
    return polygons


def territory_from_geojson(geojson: dict[str, Any]) -> Any:
    """Read a neighbourhood's territory from GeoJSON in WGS84 (lon, lat).

    Parameters
    ----------
    geojson
        A GeoJSON ``Polygon`` or ``MultiPolygon`` geometry, a ``Feature`` of one, or a
        ``FeatureCollection`` of them (what QGIS and geojson.io export), in WGS84 degrees, in
        metropolitan France. The polygons of a collection are merged (their union).

    Returns
    -------
    shapely.geometry.base.BaseGeometry
        The territory in EPSG:2154 (Lambert-93), as the store keeps it.

    Raises
    ------
    ValidationError
        Not polygons (:func:`territory_polygons`), not a valid polygon, outside metropolitan
        France, or larger than :data:`MAX_TERRITORY_KM2`.
    """
    import geopandas as gpd
    import shapely
    import shapely.geometry

    shapes = []
    for geometry in territory_polygons(geojson):
        try:
            shape = shapely.geometry.shape(geometry)
        except Exception:  # any malformed GeoJSON: answered below in the user's terms
            shape = None
        if shape is None or shape.geom_type not in _POLYGONAL or shape.is_empty:
            raise ValidationError(
                msg(
                    "le territoire doit être un Polygon ou MultiPolygon GeoJSON en WGS84 (lon, "
                    "lat)."
                )
            )
        if not shape.is_valid:
            raise ValidationError(
                msg(
                    "le territoire n'est pas un polygone valide ({value0}) : corrigez son contour "
                    "(sans auto-intersection), par exemple dans QGIS.",
                    value0=shapely.is_valid_reason(shape),
                )
            )
        shapes.append(shape)
    shape = shapes[0] if len(shapes) == 1 else shapely.union_all(shapes)
    left, bottom, right, top = shape.bounds
    w, s, e, n = _FRANCE_LONLAT
    if not (w <= left and right <= e and s <= bottom and top <= n):
        raise ValidationError(
            msg(
                "le territoire doit se trouver en France métropolitaine, en degrés WGS84 dans "
                "l'ordre (lon, lat) ; ses limites sont {bounds}.",
                bounds=shape.bounds,
            )
        )
    projected = gpd.GeoSeries([shape], crs=WGS84).to_crs(WORK_CRS).iloc[0]
    area_km2 = float(projected.area) / 1e6
    if area_km2 > MAX_TERRITORY_KM2:
        raise ValidationError(
            msg(
                "le territoire couvre {area_km2:.1f} km², plus de {MAX_TERRITORY_KM2:g} km² : "
                "donnez le quartier, pas toute la commune.",
                area_km2=area_km2,
                MAX_TERRITORY_KM2=MAX_TERRITORY_KM2,
            )
        )
    return projected


@dataclass(frozen=True)
class ExtractInfo:
    """An OSM extract accepted for a neighbourhood."""

    neighbourhood_id: int
    osm_extract: str
    size_bytes: int
    sha256: str
    bbox: tuple[float, float, float, float]
    coverage: float
    residential_buildings: int
    amenities: int


#: Suffixes of the OSM extract formats the service accepts (what ``qet layers`` reads), by which
#: libosmium chooses its reader.
EXTRACT_SUFFIXES: tuple[str, ...] = (".osm.pbf", ".osm", ".osm.gz", ".osm.bz2")
#: Bytes of a file's beginning :func:`extract_suffix` needs to recognise its format.
EXTRACT_HEAD_BYTES = 4096
_UTF8_BOM = b"\xef\xbb\xbf"
#: Magic numbers of the archives people send instead of an extract, and their names.
_OTHER_ARCHIVES = (
    (b"PK\x03\x04", "zip"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"Rar!", "rar"),
)


def _not_osm() -> InputFileError:
    return InputFileError(
        msg(
            "l'extrait n'est pas un fichier OpenStreetMap reconnu : envoyez un .osm.pbf, un .osm "
            "(XML) ou un .osm compressé en .osm.gz ou .osm.bz2 (le format est lu dans le "
            "contenu du fichier, pas dans son nom)."
        )
    )


def extract_suffix(head: bytes) -> str:
    """Return the format of an OSM extract, as its file suffix, from the file's first bytes.

    A PBF file begins with the header of its ``OSMHeader`` blob, gzip and bzip2 with their magic
    numbers, OSM XML with ``<?xml``, ``<osm`` or a comment (after a UTF-8 BOM and spaces, as
    Overpass writes). Nothing is decompressed: :func:`check_extract` looks inside.

    Parameters
    ----------
    head
        The file's first :data:`EXTRACT_HEAD_BYTES` bytes (or the whole file if shorter).

    Returns
    -------
    str
        One of :data:`EXTRACT_SUFFIXES`.

    Raises
    ------
    InputFileError
        None of these formats (another archive is named: zip, 7z, xz, zstd, rar).
    """
    if head.startswith(b"\x1f\x8b"):
        return ".osm.gz"
    if head[:3] == b"BZh" and head[3:4].isdigit():
        return ".osm.bz2"
    if (
        len(head) >= 15
        and 0 < int.from_bytes(head[:4], "big") <= 64 * 1024
        and head[4:15] == b"\x0a\x09OSMHeader"
    ):
        return ".osm.pbf"
    text = head.removeprefix(_UTF8_BOM).lstrip(b" \t\r\n")
    if text.startswith((b"<?xml", b"<osm", b"<!--")):
        return ".osm"
    for magic, name in _OTHER_ARCHIVES:
        if head.startswith(magic):
            raise InputFileError(
                msg(
                    "l'extrait est une archive {kind} : envoyez le fichier OSM qu'elle contient "
                    "(.osm.pbf, ou .osm seul ou compressé en .osm.gz ou .osm.bz2).",
                    kind=name,
                )
            )
    raise _not_osm()


def check_extract(path: str | PathLike[str], *, max_xml_bytes: int | None = None) -> str:
    """Check that a file is an OSM extract in the format its name says, within a size.

    The format is read from the content (:func:`extract_suffix`) and must be the name's, so that
    libosmium, which goes by the name, reads it as what it is. A compressed file is inflated as
    a stream, 1 MiB at a time, and counted: it must hold OSM XML (not a PBF, already compressed)
    and inflate to at most ``max_xml_bytes``, so that a small file that inflates to gigabytes is
    refused without being held in memory or handed to the reader.

    Parameters
    ----------
    path
        The file, named with one of :data:`EXTRACT_SUFFIXES`.
    max_xml_bytes
        None (no limit), or the most bytes its XML may have, inflated or not.

    Returns
    -------
    str
        Its format, one of :data:`EXTRACT_SUFFIXES`.

    Raises
    ------
    InputFileError
        Not an OSM extract, not the format its name says, compressed data that is corrupt or
        not OSM XML, or XML past ``max_xml_bytes``.
    """
    import bz2
    import gzip
    import zlib

    path = Path(path)
    with path.open("rb") as f:
        suffix = extract_suffix(f.read(EXTRACT_HEAD_BYTES))
    name = path.name.lower()
    if not name.endswith(suffix):
        raise InputFileError(
            msg(
                "{path} est un fichier {kind} : renommez-le avec cette extension.",
                path=path,
                kind=suffix,
            ),
            path=path,
        )
    if suffix == ".osm.pbf":
        return suffix  # its blobs are inflated one by one, within the format's 32 MiB, and counted
    if suffix == ".osm":
        if max_xml_bytes is not None and path.stat().st_size > max_xml_bytes:
            raise _xml_too_large(max_xml_bytes)
        return suffix
    opener: Any = gzip.open if suffix == ".osm.gz" else bz2.open
    head, size = b"", 0
    try:
        with opener(path, "rb") as f:
            while chunk := f.read(1 << 20):
                if len(head) < EXTRACT_HEAD_BYTES:
                    head += chunk[: EXTRACT_HEAD_BYTES - len(head)]
                size += len(chunk)
                if max_xml_bytes is not None and size > max_xml_bytes:
                    break
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise InputFileError(
            msg(
                "l'extrait compressé ({kind}) est tronqué ou corrompu : téléchargez-le ou "
                "exportez-le à nouveau.",
                kind=suffix,
            )
        ) from exc
    if max_xml_bytes is not None and size > max_xml_bytes:
        raise _xml_too_large(max_xml_bytes)
    try:
        inner = extract_suffix(head)
    except InputFileError:
        inner = ""
    if inner == ".osm.pbf":
        raise InputFileError(
            msg(
                "l'extrait est un .osm.pbf compressé une seconde fois ({kind}) : envoyez le "
                ".osm.pbf tel quel, il est déjà compressé.",
                kind=suffix,
            )
        )
    if inner != ".osm":
        raise InputFileError(
            msg(
                "l'extrait compressé ({kind}) ne contient pas de XML OpenStreetMap : "
                "compressez le .osm lui-même, ou envoyez le .osm.pbf.",
                kind=suffix,
            )
        )
    return suffix


def _xml_too_large(limit: int) -> InputFileError:
    return InputFileError(
        msg(
            "l'extrait décompressé dépasse {limit} octets, la taille maximale d'un extrait : "
            "découpez-le sur le territoire plus 1 km (osmium extract), ou envoyez-le en "
            ".osm.pbf, bien plus compact.",
            limit=number(limit),
        )
    )


def _hood_territory(hood: Neighbourhood) -> Any:
    from qet_geo.inputs.territory import Territory

    geometry = territory_geometry(hood)
    if geometry is None:
        raise ValidationError(
            msg(
                "le quartier {id} n'a pas de territoire : définissez-le d'abord (PUT "
                "/neighbourhoods/{id}/territory).",
                id=hood.id,
            )
        )
    return Territory(name=hood.name, geometry=geometry, source="store")


def store_extract(
    engine: Engine,
    neighbourhood_id: int,
    upload: str | PathLike[str],
    *,
    osm_dir: str | PathLike[str],
    max_objects: int | None = None,
    max_xml_bytes: int | None = None,
) -> ExtractInfo:
    """Make an uploaded OSM extract the neighbourhood's, once it is known to be usable.

    The file is checked (:func:`check_extract`: its format, read from its content, and what a
    compressed one inflates to), its objects counted, then it is read
    (:func:`qet_geo.inputs.osm.read_osm`); it must cover at least
    :data:`MIN_EXTRACT_COVERAGE` of the territory, and must give a street network and residential
    buildings inside it. It is then renamed, atomically, to
    ``<osm_dir>/neighbourhood-<id>-<sha256 prefix><suffix of its format>`` and the neighbourhood
    points to it;
    the previous uploaded extract is removed only after that commit. A bad file changes nothing.

    Parameters
    ----------
    engine
        The store.
    neighbourhood_id
        The neighbourhood.
    upload
        The uploaded ``.osm.pbf``, ``.osm``, ``.osm.gz`` or ``.osm.bz2`` file, named with the
        suffix of its content (:func:`extract_suffix`), inside ``osm_dir`` (so that the rename is
        atomic). It is moved on success and left in place on failure (the caller removes it).
    osm_dir
        The service's OSM folder.
    max_objects
        None (no limit), or the most OSM objects the file may decode to
        (:func:`qet_geo.inputs.osm.count_osm_objects`).
    max_xml_bytes
        None (no limit), or the most bytes of XML a ``.osm`` file may have, once inflated.

    Raises
    ------
    NotFoundError
        No such neighbourhood.
    ValidationError
        The neighbourhood has no territory, or the extract has no home in it.
    InputFileError, EmptyDataError
        The file is not a readable OSM extract, not the format its name says, past
        ``max_objects`` or ``max_xml_bytes``, or holds no street in the territory.
    DataCoverageError
        The extract covers too little of the territory.
    """
    from qet_geo.inputs.osm import read_osm
    from qet_geo.inputs.territory import territory_from_bounds
    from qet_geo.layers import build_layers

    upload = Path(upload)
    folder = Path(osm_dir).resolve()
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        hood = session.get(Neighbourhood, neighbourhood_id)
        if hood is None:
            raise NotFoundError(
                msg(
                    "le quartier {neighbourhood_id} n'existe pas.",
                    neighbourhood_id=neighbourhood_id,
                )
            )
        territory = _hood_territory(hood)
    suffix = check_extract(upload, max_xml_bytes=max_xml_bytes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # clipped borders are usual; coverage is checked below
        data = read_osm(upload, max_objects=max_objects)
        extent = territory_from_bounds(data.bounds, buffer_m=0).geometry
        coverage = float(extent.intersection(territory.geometry).area / territory.geometry.area)
        if coverage < MIN_EXTRACT_COVERAGE:
            raise DataCoverageError(
                msg(
                    "l'extrait couvre {coverage:.0%} du territoire du quartier (il en faut au moins "
                    "{MIN_EXTRACT_COVERAGE:.0%}) : découpez-le sur le territoire plus 1 km.",
                    coverage=coverage,
                    MIN_EXTRACT_COVERAGE=MIN_EXTRACT_COVERAGE,
                )
            )
        layers = build_layers(data, territory=territory)
    buildings = layers.layers["buildings"]
    residential = buildings[buildings["residential"].astype(bool)]
    inside = residential[residential.representative_point().intersects(territory.geometry)]
    if inside.empty:
        raise ValidationError(
            msg(
                "l'extrait n'a aucun bâtiment résidentiel dans le territoire : aucun logement "
                "d'où mesurer. Vérifiez le territoire ou prenez un extrait plus complet."
            )
        )
    digest = _sha256(upload)
    name = f"neighbourhood-{neighbourhood_id}-{digest[:12]}{suffix}"
    target = folder / name
    already = target.exists()  # the same file uploaded again: same name, same bytes
    os.replace(upload, target)
    try:
        with factory.begin() as session:
            hood = session.get(Neighbourhood, neighbourhood_id)
            if hood is None:
                raise NotFoundError(
                    msg(
                        "le quartier {neighbourhood_id} n'existe pas.",
                        neighbourhood_id=neighbourhood_id,
                    )
                )
            previous = hood.osm_extract
            hood.osm_extract = name
    except BaseException:
        if not already:
            target.unlink(missing_ok=True)
        raise
    if previous and previous != name and _uploaded(previous, neighbourhood_id):
        (folder / previous).unlink(missing_ok=True)
        _remove_home_access(folder, previous)
    lon_lat = territory_from_bounds(data.bounds).geometry
    import geopandas as gpd

    box = gpd.GeoSeries([lon_lat], crs=WORK_CRS).to_crs(WGS84).total_bounds
    return ExtractInfo(
        neighbourhood_id=neighbourhood_id,
        osm_extract=name,
        size_bytes=target.stat().st_size,
        sha256=digest,
        bbox=(
            round(float(box[0]), 6),
            round(float(box[1]), 6),
            round(float(box[2]), 6),
            round(float(box[3]), 6),
        ),
        coverage=round(coverage, 4),
        residential_buildings=len(inside),
        amenities=len(layers.layers["amenities"]),
    )


def _uploaded(name: str, neighbourhood_id: int) -> bool:
    """Whether ``name`` is a file this module wrote for the neighbourhood (never a shared one)."""
    return (
        re.fullmatch(
            rf"neighbourhood-{neighbourhood_id}-[0-9a-f]{{12}}\.osm(?:\.pbf|\.gz|\.bz2)?", name
        )
        is not None
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------------
# analysis of a diagnostic


@dataclass(frozen=True)
class AnalysisResult:
    """What an analysis stored.

    Attributes
    ----------
    n_answers
        Complete SU answers the profiles were fitted on.
    n_profiles
        Profiles stored (those of at least 11 respondents).
    n_zones, n_indicators
        200 m cells of the territory with indicators, and indicator rows stored (0 without an
        OSM extract).
    weights
        What weighs each home in the zone means: "census" (people allocated from the census
        grid), "floor_area" (residential floor area, m², a proxy of people) or None.
    notes
        What was left out, as ``{"en", "fr", "code"}`` messages.
    """

    diagnostic_id: int
    n_answers: int
    n_profiles: int
    n_zones: int = 0
    n_indicators: int = 0
    weights: str | None = None
    notes: list[dict[str, str]] = field(default_factory=list)


def analyse_diagnostic(
    engine: Engine,
    diagnostic_id: int,
    *,
    osm_dir: str | PathLike[str] | None = None,
    census: str | PathLike[str] | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Fit a diagnostic's usage profiles and its neighbourhood's constraint indicators; store both.

    Steps (:data:`ANALYSIS_STEPS`): read the complete answers; fit the diagnostic's own usage
    profiles (:class:`~qet_geo.analysis.profiles.UsageProfiles`); when the neighbourhood has an OSM extract,
    build its layers on the territory (:func:`~qet_geo.layers.build_layers`), compute the
    per-home indicators on foot (:func:`~qet_geo.constraints.access.neighbourhood_access`) and average
    them per INSEE 200 m cell with population weights
    (:func:`~qet_geo.constraints.access.zone_indicators`); then, in one transaction, replace the
    diagnostic's profiles and the neighbourhood's indicators and mark the diagnostic done. Nothing
    is written before that transaction: a failure leaves the previous results as they were.

    Parameters
    ----------
    engine
        The store.
    diagnostic_id
        The diagnostic.
    osm_dir
        The service's OSM folder, where the neighbourhood's extract lies.
    census
        An INSEE 200 m grid with population (see :func:`~qet_geo.inputs.census.read_grid`): homes then
        weigh their allocated people, and each cell's ``population`` is people. Without it, or
        when the grid has no cell in the territory (a note says so), homes weigh their
        residential floor area (m²).
    progress
        Called with each step's name and the share of the work done before it.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    NotFoundError
        No such diagnostic.
    DisclosureError
        Fewer than 11 complete answers: nothing can be published.
    ValidationError, InputFileError, DataCoverageError, EmptyDataError
        The neighbourhood's extract is missing, unreadable, or holds no home in its territory;
        or it has an extract but no territory.
    """
    return _analyse(
        engine, diagnostic_id, osm_dir=osm_dir, census=census, progress=progress, job_id=None
    )


def _analyse(
    engine: Engine,
    diagnostic_id: int,
    *,
    osm_dir: str | PathLike[str] | None,
    census: str | PathLike[str] | None,
    progress: Progress | None,
    job_id: str | None,
) -> AnalysisResult:
    """Do :func:`analyse_diagnostic`; with a ``job_id``, store only if that run still holds the job."""
    step = progress or (lambda name, done: None)
    factory = sessionmaker(engine, expire_on_commit=False)
    step("answers", 0.0)
    with factory() as session:
        diag = session.get(Diagnostic, diagnostic_id)
        if diag is None:
            raise NotFoundError(
                msg("le diagnostic {diagnostic_id} n'existe pas.", diagnostic_id=diagnostic_id)
            )
        hood = session.get(Neighbourhood, diag.neighbourhood_id)
        assert hood is not None  # a foreign key
        frame = respondents_frame(session, diagnostic_id)
        extract = hood.osm_extract
        territory = _hood_territory(hood) if extract else None
    usages = [u for u in USAGES if u in frame.columns]
    complete = frame[usages].dropna() if len(usages) == len(USAGES) else frame.iloc[0:0]
    if len(complete) < MIN_RESPONDENTS:
        # no count: a count of 1 to 10 is itself a figure about a small group
        raise DisclosureError(
            msg(
                "moins de {MIN_RESPONDENTS} réponses SU complètes : l'analyse ne publie rien "
                "sous {MIN_RESPONDENTS} répondants (secret statistique). Envoyez davantage de "
                "réponses.",
                MIN_RESPONDENTS=MIN_RESPONDENTS,
            )
        )

    step("profiles", _at("profiles"))
    profiles = _own_profiles(diagnostic_id, complete, usages)

    notes: list[dict[str, str]] = []
    cells = None
    weights = None
    if extract is None:
        notes.append(
            _message(
                msg(
                    "pas d'extrait OSM pour ce quartier : les indicateurs de contraintes n'ont pas "
                    "été calculés (envoyez-en un avec PUT /neighbourhoods/{id}/osm-extract).",
                    id=hood.id,
                ),
                "NoExtract",
            )
        )
    else:
        cells, weights, census_note, walk, bike = _cell_indicators(
            extract_path(osm_dir, extract), territory, census=census, step=step
        )
        if census_note is not None:
            notes.append(census_note)
        _save_home_access(osm_dir, extract, territory, walk, bike)
        step("links", _at("links"))
        links_note = _preview_links(
            engine, diagnostic_id, osm_dir, walk, access_key(extract, territory)
        )
        if links_note is not None:
            notes.append(links_note)

    step("store", _at("store"))
    rows = [] if cells is None else _indicator_rows(hood.id, cells)
    with factory.begin() as session:
        # First, so that the row stays locked until the commit: a run that took the job over
        # meanwhile makes this one write nothing at all.
        done = session.execute(
            _job_update(diagnostic_id, job_id).values(
                status="done",
                progress=1.0,
                job_step=None,
                job_message=notes[0] if notes else None,
                job_updated_at=_utcnow(),
            )
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            if job_id is not None and session.get(Diagnostic, diagnostic_id) is not None:
                raise _Superseded
            raise NotFoundError(
                msg("le diagnostic {diagnostic_id} n'existe pas.", diagnostic_id=diagnostic_id)
            )
        session.execute(delete(Profile).where(Profile.diagnostic_id == diagnostic_id))
        session.add_all(profiles)
        if cells is not None:
            # the neighbourhood's indicators are replaced whole, in this same transaction
            session.execute(delete(Indicator).where(Indicator.neighbourhood_id == hood.id))
            session.add_all(rows)
    logger.info(
        "diagnostic %s: %s profiles, %s indicator rows stored",
        diagnostic_id,
        len(profiles),
        len(rows),
    )
    return AnalysisResult(
        diagnostic_id=diagnostic_id,
        n_answers=len(complete),
        n_profiles=len(profiles),
        n_zones=0 if cells is None else len(cells),
        n_indicators=len(rows),
        weights=weights,
        notes=notes,
    )


def _own_profiles(diagnostic_id: int, complete: Any, usages: list[str]) -> list[Profile]:
    from qet_geo.analysis.profiles import UsageProfiles

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = UsageProfiles(random_state=0).fit(complete.astype("Int8"))
    counts = [int(c) for c in fitted.counts_]
    total = float(sum(counts))
    # rule 3: a profile holding every respondent would give each one's profile, and its centre
    # the exact mean answers of all: none is stored then
    if len(counts) < 2 or max(counts) >= total:
        return []
    return [
        Profile(
            diagnostic_id=diagnostic_id,
            scope="diagnostic",
            number=k,
            centre={u: float(v) for u, v in zip(usages, centre, strict=True)},
            share=float(count) / total,
        )
        for k, (count, centre) in enumerate(zip(fitted.counts_, fitted.centres_, strict=True))
        if count >= MIN_RESPONDENTS  # a profile of 1 to 10 people is not published
    ]


def _at(name: str) -> float:
    """The share of the analysis done when step ``name`` begins."""
    return ANALYSIS_STEPS.index(name) / len(ANALYSIS_STEPS)


def _cell_indicators(
    osm: Path,
    territory: Any,
    *,
    census: str | PathLike[str] | None,
    step: Progress,
) -> tuple[Any, str, dict[str, str] | None, Any, Any]:
    """The cells' indicators, their weights, a note, and the per-home tables (walk, bike)."""
    import numpy as np
    import pandas as pd

    from qet_geo.constraints.access import zone_indicators
    from qet_geo.inputs.osm import read_osm
    from qet_geo.pipeline import build_neighbourhood, measure_access

    step("layers", _at("layers"))
    note = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # clipped extract borders; coverage was checked at upload
        data = read_osm(osm)

        def access_step(name: str) -> None:
            if name == "access":
                step("access", _at("access"))

        try:
            hood = build_neighbourhood(
                data, territory=territory, census=census, progress=access_step
            )
        except DataCoverageError as exc:
            # One grid serves every neighbourhood of the service: one it does not reach is
            # still analysed, weighted by floor area, and told so.
            if census is None or exc.path != str(census):
                raise
            census = None
            note = _message(
                msg(
                    "la grille du recensement ({name}) n'a aucun carreau de 200 m dans ce quartier : "
                    "les logements ont été pondérés par leur surface de plancher résidentielle au "
                    "lieu de leurs habitants.",
                    name=Path(exc.path).name,
                ),
                "CensusElsewhere",
            )
            hood = build_neighbourhood(data, territory=territory, progress=access_step)
        layers, access = hood.layers, hood.access["walk"]
        step("bike", _at("bike"))
        # the same layers, the cycling network: ~0.3 s more on Lorient centre (1,042 homes)
        bike = measure_access(layers, modes=("bike",)).access["bike"]
    step("zones", _at("zones"))
    if census is not None:
        return zone_indicators(access), "census", note, access, bike
    # no census: a home weighs its residential floor area (footprint × storeys, from the OSM
    # layer), the proxy the census allocation spreads people with; a building of unknown size
    # weighs a typical one
    area = layers.layers["buildings"].loc[access.index, "floor_area_m2"].to_numpy(dtype=float)
    positive = area[np.isfinite(area) & (area > 0)]
    typical = float(np.median(positive)) if len(positive) else 1.0
    floor = pd.Series(np.where(np.isfinite(area) & (area > 0), area, typical), index=access.index)
    return zone_indicators(access, weights=floor), "floor_area", note, access, bike


# --------------------------------------------------------------------------------------------------
# the per-home access tables, kept beside the extract


#: Modes whose per-home access tables the analysis keeps.
ACCESS_MODES: tuple[str, ...] = ("walk", "bike")


def access_key(extract: str, territory: Any) -> str:
    """What the per-home tables of a neighbourhood depend on: its extract and its territory.

    The extract's name holds a digest of its bytes (:func:`store_extract`); the territory's
    geometry is hashed whole. A new extract or outline gives another key: the old tables are
    never read for the new ones.
    """
    geometry = getattr(territory, "geometry", territory)
    text = f"{extract}\n{geometry.wkb_hex if geometry is not None else ''}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _access_file(folder: Path, extract: str, key: str, mode: str) -> Path:
    return folder / f"{extract}.access-{key}-{mode}.parquet"


def _remove_home_access(folder: Path, extract: str, *, keep: str | None = None) -> None:
    """Remove the tables (and the links' previews) kept for an extract, but those of ``keep``."""
    for path in folder.glob(f"{glob_escape(extract)}.access-*"):
        if keep is None or not path.name.startswith(f"{extract}.access-{keep}-"):
            path.unlink(missing_ok=True)


def glob_escape(name: str) -> str:
    """``name`` for :meth:`pathlib.Path.glob`, its wildcard characters taken literally."""
    import glob

    return glob.escape(name)


def _save_home_access(
    osm_dir: str | PathLike[str] | None, extract: str, territory: Any, walk: Any, bike: Any
) -> None:
    """Write the per-home tables beside the extract, each atomically (written, then renamed).

    A folder that cannot be written is logged, not fatal: the releases then say that their
    links could not be computed, until the next analysis.
    """
    if osm_dir is None:
        return
    folder = Path(osm_dir).resolve()
    key = access_key(extract, territory)
    try:
        for mode, table in (("walk", walk), ("bike", bike)):
            if table is None:
                continue
            target = _access_file(folder, extract, key, mode)
            temporary = folder / f".access-{os.getpid()}-{secrets.token_hex(6)}.parquet"
            try:
                table.to_parquet(temporary)
                os.replace(temporary, target)
            finally:
                temporary.unlink(missing_ok=True)
        _remove_home_access(folder, extract, keep=key)
    except OSError:
        logger.exception("could not keep the access tables of %s", extract)


def home_access(osm_dir: str | PathLike[str] | None, hood: Neighbourhood) -> tuple[Any, Any] | None:
    """Read back the per-home access tables the last analysis of a neighbourhood kept.

    Parameters
    ----------
    osm_dir
        The service's OSM folder.
    hood
        The stored neighbourhood (its extract and territory name the tables: :func:`access_key`).

    Returns
    -------
    tuple or None
        ``(walk, bike)``: GeoDataFrames indexed by building key, as
        :func:`qet_geo.constraints.access.neighbourhood_access` gives them (``bike`` None when
        it was not kept); None without an extract, a territory, or an analysis since they were
        last set.
    """
    import geopandas as gpd

    if osm_dir is None or not hood.osm_extract:
        return None
    geometry = territory_geometry(hood)
    if geometry is None:
        return None
    folder = Path(osm_dir).resolve()
    key = access_key(hood.osm_extract, geometry)
    tables: dict[str, Any] = {}
    for mode in ACCESS_MODES:
        path = _access_file(folder, hood.osm_extract, key, mode)
        try:
            tables[mode] = gpd.read_parquet(path)
        except FileNotFoundError:
            tables[mode] = None
        except Exception:  # unreadable: as if absent (the next analysis writes it again)
            logger.exception("could not read the access table %s", path.name)
            tables[mode] = None
    if tables["walk"] is None:
        return None
    return tables["walk"], tables["bike"]


def _preview_links(
    engine: Engine, diagnostic_id: int, osm_dir: Any, walk: Any, key: str
) -> dict[str, str] | None:
    """Compute the links of the would-be release once, for the preview; a note if impossible."""
    from qet_geo.store.releases import preview_links

    try:
        with sessionmaker(engine)() as session:
            preview_links(session, diagnostic_id, osm_dir=osm_dir, walk=walk, key=key)
    except QetGeoError as exc:
        logger.warning("links of diagnostic %s not computed: %s", diagnostic_id, exc)
        return _message(exc, "LinksWithheld")
    return None


def _indicator_rows(neighbourhood_id: int, cells: Any) -> list[Indicator]:
    import math

    names = [c for c in cells.columns if c not in ("population", "homes")]
    names = [c for c in names if cells[c].notna().any()]  # e.g. no GTFS, no DEM: left out
    rows = []
    for zone_id, row in cells.iterrows():
        for name in names:
            value = float(row[name])
            if math.isnan(value):
                continue
            rows.append(
                Indicator(
                    neighbourhood_id=neighbourhood_id,
                    zone_id=str(zone_id),
                    name=name,
                    value=value,
                    population=float(row["population"]),
                )
            )
    return rows


# --------------------------------------------------------------------------------------------------
# the analysis as a job


class _Superseded(Exception):
    """The run no longer holds the job: another one took it over as abandoned."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes: they were written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _job_update(diagnostic_id: int, job_id: str | None) -> Any:
    """An UPDATE of the diagnostic, limited to the run ``job_id`` when one is given."""
    statement = update(Diagnostic).where(Diagnostic.id == diagnostic_id)
    if job_id is not None:
        statement = statement.where(Diagnostic.job_id == job_id)
    return statement.execution_options(synchronize_session=False)


def _set_state(
    engine: Engine, diagnostic_id: int, *, job_id: str | None = None, **values: Any
) -> None:
    """Write the job's state and the time of this news; :class:`_Superseded` if taken over."""
    with sessionmaker(engine).begin() as session:
        done = session.execute(
            _job_update(diagnostic_id, job_id).values(**values, job_updated_at=_utcnow())
        )
        if job_id is not None and done.rowcount == 0:  # type: ignore[attr-defined]
            raise _Superseded


def record_job_failure(
    engine: Engine, diagnostic_id: int, job_id: str, text: Msg, code: str
) -> None:
    """Mark a run as failed with ``text`` (its process died, or was killed past its limits).

    Nothing is written when another run has taken the job over since.
    """
    try:
        _set_state(
            engine, diagnostic_id, job_id=job_id, status="failed", job_message=_message(text, code)
        )
    except _Superseded:
        logger.warning("analysis of diagnostic %s was taken over by a new run", diagnostic_id)


def job_status(
    diag: Diagnostic, *, timeout_s: float = JOB_TIMEOUT_S, now: datetime | None = None
) -> str:
    """Return the status of a diagnostic's analysis, "abandoned" when its process is gone.

    Parameters
    ----------
    diag
        The stored diagnostic.
    timeout_s
        Seconds without news after which a "queued" or "running" job is taken as abandoned
        (its process was killed: it will never write again). A job with no recorded time (one
        started before the store recorded it) is abandoned at once.
    now
        The present time (UTC), for tests.

    Returns
    -------
    str
        One of: collecting, queued, running, done, failed, abandoned.
    """
    if diag.status not in _ACTIVE:
        return diag.status
    if diag.job_updated_at is None:
        return "abandoned"
    silent = (now or _utcnow()) - _aware(diag.job_updated_at)
    return "abandoned" if silent > timedelta(seconds=timeout_s) else diag.status


def duration_text(seconds: float) -> Msg:
    """A duration in words: seconds under two minutes, else minutes."""
    if seconds < 120:
        return msg("{seconds} s", seconds=number(seconds))
    return msg("{minutes} min", minutes=number(seconds / 60, decimals=0))


def abandoned_message(diag: Diagnostic, *, timeout_s: float = JOB_TIMEOUT_S) -> dict[str, str]:
    """Say, in English and French, that the analysis of ``diag`` was abandoned and what to do.

    Returns
    -------
    dict
        ``{"en", "fr", "code": "AbandonedJob"}``.
    """
    step = (
        msg(
            " (dernière étape : {step})",
            step=ANALYSIS_STEP_LABELS.get(diag.job_step) or diag.job_step,
        )
        if diag.job_step
        else msg(" (elle n'a jamais démarré)")
    )
    return _message(
        msg(
            "l'analyse ne donne plus de nouvelles depuis plus de {duration}{step} : son "
            "processus s'est arrêté et elle ne finira pas. Les résultats précédents sont "
            "conservés ; relancez-la (POST /diagnostics/{id}/run).",
            duration=duration_text(timeout_s),
            step=step,
            id=diag.id,
        ),
        "AbandonedJob",
    )


def claim_analysis(engine: Engine, diagnostic_id: int, *, timeout_s: float = JOB_TIMEOUT_S) -> str:
    """Queue the analysis of a diagnostic, unless a live run holds it, and return the run's id.

    One conditional UPDATE, so that of two concurrent claims only one wins. A job that is
    "queued" or "running" but silent for longer than ``timeout_s`` (:func:`job_status`:
    abandoned) is taken over; if its process was in fact still alive, it writes nothing more.

    Parameters
    ----------
    engine
        The store.
    diagnostic_id
        The diagnostic.
    timeout_s
        Seconds without news after which a job is abandoned.

    Returns
    -------
    str
        The id of the new run, for :func:`run_analysis`.

    Raises
    ------
    NotFoundError
        No such diagnostic.
    ConflictError
        Its analysis is already queued or running, and gave news less than ``timeout_s`` ago.
    """
    now = _utcnow()
    job_id = secrets.token_hex(16)
    with sessionmaker(engine).begin() as session:
        claimed = session.execute(
            update(Diagnostic)
            .where(
                Diagnostic.id == diagnostic_id,
                or_(
                    Diagnostic.status.not_in(_ACTIVE),
                    Diagnostic.job_updated_at.is_(None),
                    Diagnostic.job_updated_at < now - timedelta(seconds=timeout_s),
                ),
            )
            .values(
                status="queued",
                progress=0.0,
                job_step=None,
                job_message=None,
                job_id=job_id,
                job_updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            return job_id
        diag = session.get(Diagnostic, diagnostic_id)
    if diag is None:
        raise NotFoundError(
            msg("le diagnostic {diagnostic_id} n'existe pas.", diagnostic_id=diagnostic_id)
        )
    raise ConflictError(
        msg(
            "l'analyse de ce diagnostic est déjà en cours ; si son processus s'est arrêté, "
            "elle est tenue pour abandonnée après {duration} sans nouvelles.",
            duration=duration_text(timeout_s),
        )
    )


def run_analysis(
    engine: Engine,
    diagnostic_id: int,
    *,
    osm_dir: str | PathLike[str] | None = None,
    census: str | PathLike[str] | None = None,
    job_id: str | None = None,
    timeout_s: float = JOB_TIMEOUT_S,
) -> AnalysisResult | None:
    """Run :func:`analyse_diagnostic` as a job: state, progress in steps, and why it failed.

    The diagnostic's ``status`` goes "queued" → "running" → "done" or "failed"; ``job_step``,
    ``progress`` and ``job_updated_at`` follow the steps. On failure the reason is stored in
    ``job_message`` (``{"en", "fr", "code"}``: the error's own messages, or a generic one for
    an unexpected error, whose details go to the log only) and the previous profiles and
    indicators are left intact. A run that another one took over (:func:`claim_analysis`)
    stops at its next step and writes nothing.

    Parameters
    ----------
    engine, diagnostic_id, osm_dir, census
        As :func:`analyse_diagnostic`.
    job_id
        The run's id from :func:`claim_analysis`; None claims the job here first.
    timeout_s
        For that claim: seconds without news after which a job is abandoned.

    Returns
    -------
    AnalysisResult or None
        None when the analysis failed or was taken over.

    Raises
    ------
    NotFoundError, ConflictError
        Only when claiming (``job_id`` None): see :func:`claim_analysis`. Never afterwards.
    """
    if job_id is None:
        job_id = claim_analysis(engine, diagnostic_id, timeout_s=timeout_s)
    current = {"step": ANALYSIS_STEPS[0]}

    def progress(name: str, done: float) -> None:
        current["step"] = name
        _set_state(engine, diagnostic_id, job_id=job_id, job_step=name, progress=round(done, 4))

    try:
        _set_state(
            engine,
            diagnostic_id,
            job_id=job_id,
            status="running",
            progress=0.0,
            job_step=None,
            job_message=None,
        )
        result = _analyse(
            engine,
            diagnostic_id,
            osm_dir=osm_dir,
            census=census,
            progress=progress,
            job_id=job_id,
        )
    except _Superseded:
        logger.warning(
            "analysis of diagnostic %s was taken over by a new run: this one stops", diagnostic_id
        )
        return None
    except QetGeoError as exc:
        logger.warning("analysis of diagnostic %s failed: %s", diagnostic_id, exc)
        reason = _message(exc, type(exc).__name__)
    except Exception:
        logger.exception("analysis of diagnostic %s failed", diagnostic_id)
        reason = _message(
            msg(
                "erreur interne à l'étape « {current_step} » : les résultats précédents sont "
                "conservés ; le journal du service a les détails.",
                current_step=current["step"],
            ),
            "InternalError",
        )
    else:
        _keep_preview(engine, diagnostic_id, osm_dir)
        return result
    try:
        _set_state(engine, diagnostic_id, job_id=job_id, status="failed", job_message=reason)
    except _Superseded:
        logger.warning("analysis of diagnostic %s was taken over by a new run", diagnostic_id)
    except Exception:  # the store itself is down: nothing more to record
        logger.exception("could not record the failure of diagnostic %s", diagnostic_id)
    return None


def _keep_preview(engine: Engine, diagnostic_id: int, osm_dir: Any) -> None:
    """Compute the results page's preview now, so that its first view after the job is quick.

    :func:`qet_geo.store.releases.keep_preview` computes nothing when the preview of the data
    as they are is already kept (an analysis that stored the same results). The job is done
    whatever happens here: the page computes the preview itself if it is not kept.
    """
    from qet_geo.store.releases import keep_preview

    try:
        keep_preview(engine, diagnostic_id, osm_dir=osm_dir)
    except Exception:  # the page will compute it on its first view
        logger.exception("could not keep the preview of diagnostic %s", diagnostic_id)


# --------------------------------------------------------------------------------------------------
# national reference profiles


@dataclass(frozen=True)
class NationalProfilesResult:
    """National reference profiles fitted and stored, and the respondents given them."""

    n_neighbourhoods: int
    n_answers: int
    profiles: list[Profile]
    n_reassigned: int
    diagnostic_ids: list[int]
    #: True when the profiles were fitted on synthetic answers only (no real campaign yet).
    synthetic: bool = False
    #: Neighbourhoods whose synthetic campaign was left out of a fit on real answers.
    synthetic_left_out: list[int] = field(default_factory=list)


def fit_national_profiles(
    engine: Engine, *, random_state: int | None = 0
) -> NationalProfilesResult:
    """Fit the national reference profiles on the network's pooled answers and store them.

    The latest campaign with at least 11 complete answers of every neighbourhood is pooled, each
    neighbourhood weighing the same (:func:`qet_geo.analysis.profiles.national_profiles`;
    smaller ones are left out, so that no handful of people weighs like a whole neighbourhood).
    In one transaction, the previous national profiles are replaced by those of at least 11
    respondents (``scope="national"``, no diagnostic) and every stored respondent with complete
    answers is given the nearest of them (:func:`qet_geo.store.ingest.assign_to_centres`), so that the
    profile shares and the national comparison speak of the national reference.

    Synthetic campaigns (``Diagnostic.synthetic``) are never pooled with real ones: the
    profiles are fitted on the real campaigns, the neighbourhoods whose campaign is synthetic
    are left out and named (``synthetic_left_out``); only when no neighbourhood has a real
    campaign of 11 complete answers are they fitted on the synthetic ones, as a demonstration
    (``synthetic`` True).

    Raises
    ------
    DisclosureError
        No neighbourhood has 11 complete answers yet.
    """
    import pandas as pd

    from qet_geo.analysis.profiles import national_profiles

    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        pooled = _pooled_answers(session)
    left_out: list[int] = []
    synthetic = False
    if not pooled.empty:
        fake = pooled["synthetic"].astype(bool)
        if fake.all():
            synthetic = True
        elif fake.any():
            left_out = sorted({int(h) for h in pooled.loc[fake, "neighbourhood"]})
            pooled = pooled.loc[~fake]
        pooled = pooled.drop(columns=["synthetic"])
    if pooled.empty:
        raise DisclosureError(
            msg(
                "aucun quartier n'a encore {MIN_RESPONDENTS} réponses SU complètes : les profils "
                "nationaux en ont besoin.",
                MIN_RESPONDENTS=MIN_RESPONDENTS,
            )
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = national_profiles(pooled, neighbourhood="neighbourhood", random_state=random_state)
    usages = list(model.usages_)
    profiles = [
        Profile(
            diagnostic_id=None,
            scope="national",
            number=k,
            centre={u: float(v) for u, v in zip(usages, model.centres_[k], strict=True)},
            share=float(model.shares_[k]),
            synthetic=synthetic,
        )
        for k in range(model.n_profiles_)
        if model.counts_[k] >= MIN_RESPONDENTS
    ]
    if not profiles:
        raise DisclosureError(
            msg(
                "aucun profil national n'a {MIN_RESPONDENTS} répondants : recueillez davantage "
                "de réponses.",
                MIN_RESPONDENTS=MIN_RESPONDENTS,
            )
        )
    with factory.begin() as session:
        session.execute(
            delete(Profile).where(Profile.scope == "national", Profile.diagnostic_id.is_(None))
        )
        session.add_all(profiles)
        rows = session.execute(
            select(Respondent.id, Respondent.diagnostic_id, Respondent.answers)
        ).all()
        frame = pd.DataFrame(
            [{u: (a or {}).get(u) for u in usages} for _, _, a in rows],
            index=pd.Index([r[0] for r in rows]),
        )
        numbers = assign_to_centres(frame, profiles) if rows else pd.Series(dtype="Int64")
        changes = [
            {"id": int(i), "profile": None if pd.isna(v) else int(v)}
            for i, v in zip(frame.index.tolist(), numbers.tolist(), strict=True)
        ]
        if changes:
            session.execute(update(Respondent), changes)
        diagnostics = sorted({int(r[1]) for r in rows})
    return NationalProfilesResult(
        n_neighbourhoods=int(pooled["neighbourhood"].nunique()),
        n_answers=len(pooled),
        profiles=profiles,
        n_reassigned=int(numbers.notna().sum()) if rows else 0,
        diagnostic_ids=diagnostics,
        synthetic=synthetic,
        synthetic_left_out=left_out,
    )


def _pooled_answers(session: Session) -> Any:
    import pandas as pd

    frames = []
    for hood_id in session.scalars(select(Neighbourhood.id).order_by(Neighbourhood.id)):
        # the latest campaign with enough complete answers (a new one just started is skipped);
        # a real one first: a neighbourhood's synthetic demonstration never hides its survey
        campaigns = session.execute(
            select(Diagnostic.id, Diagnostic.synthetic)
            .where(Diagnostic.neighbourhood_id == hood_id)
            .order_by(Diagnostic.synthetic, Diagnostic.year.desc())
        ).all()
        for diag_id, synthetic in campaigns:
            frame = respondents_frame(session, diag_id)
            if not all(u in frame.columns for u in USAGES):
                continue
            complete = frame[list(USAGES)].dropna()
            if len(complete) >= MIN_RESPONDENTS:
                frames.append(
                    complete.astype("Int8").assign(
                        neighbourhood=str(hood_id), synthetic=bool(synthetic)
                    )
                )
                break
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------------
# stored indicators


def constraint_cells(session: Session, neighbourhood_id: int) -> Any:
    """Return a neighbourhood's stored constraint indicators, one row per 200 m cell.

    They are the per-cell means :func:`analyse_diagnostic` stored (the 15-minute score, transit,
    cycling, slope, street connectivity, minutes to the nearest essential amenity). They describe
    streets and amenities for every home of a cell, not respondents: no threshold applies.

    Parameters
    ----------
    session
        A session on the store.
    neighbourhood_id
        The neighbourhood.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by INSEE cell id, one column per indicator (NaN where a cell has none), the
        cells' squares as geometry in EPSG:2154; empty before the first analysis with an extract.
    """
    import geopandas as gpd
    import pandas as pd

    from qet_geo.inputs.census import cell_id_to_polygon

    rows = session.execute(
        select(Indicator.zone_id, Indicator.name, Indicator.value).where(
            Indicator.neighbourhood_id == neighbourhood_id
        )
    ).all()
    if not rows:
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=WORK_CRS))
    long = pd.DataFrame(rows, columns=["zone_id", "name", "value"])
    wide = long.pivot(index="zone_id", columns="name", values="value").sort_index()
    wide.columns.name = None
    squares = cell_id_to_polygon(wide.index.to_series()).to_crs(WORK_CRS)
    return gpd.GeoDataFrame(wide, geometry=squares.to_numpy(), crs=WORK_CRS)
