"""Step 1 of the journey, the neighbourhood: its outline, its OSM extract, its layers.

- ``/espace/quartiers/{id}/contour``: the outline, from a GeoJSON file (what QGIS or geojson.io
  export) or drawn on a map (Leaflet.draw, :file:`static/outline.js` fills the form's GeoJSON
  field; without JavaScript the field takes pasted GeoJSON). Both go through the JSON API's check
  (:func:`api.routers.layers.checked_territory_geojson`: polygons only, vertex limit, France).
- ``/espace/quartiers/{id}/extrait``: the OSM extract, streamed under the API's size limit to the
  same temporary file and checked and stored by the same worker, under its time and memory limits
  (:func:`api.routers.layers.received_extract`, :func:`~api.routers.layers.read_extract`).
- ``/espace/quartiers/{id}/couches``: counts per layer and warnings; the layers' map is its own
  document, ``/cartes/quartiers/{id}/couches`` (the folium page writes inline scripts: it has the
  maps' policy, outside ``/espace``, and is linked to, not framed).

Reading an extract never runs in the server process: :func:`keep_layers` runs in a worker
(:func:`api._workers.run_in_worker`) with the extract's limits, while the event loop serves on.
It runs once per extract and territory: what it finds (counts and warnings in both languages, the
streets, the maps asked for) is kept in files beside the extract, named by
:func:`qet_geo.store.jobs.access_key` like the analysis's per-home tables (so a new extract or
outline is another name, and the extract's replacement removes them), and read back by every
server process (:func:`extract_layers`). A page gives its store connection back before it waits
for a worker.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets
import tempfile
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy.orm import Session

from api._limits import limited_chunks
from api._workers import WorkerLimits, refused_past_limits, run_in_worker
from api.dependencies import SessionDep, neighbourhood_for
from api.errors import PermissionDeniedError
from api.routers.layers import (
    checked_territory_geojson,
    osm_folder,
    read_extract,
    received_extract,
    territory_out,
)
from api.settings import Settings
from api.web import _kit
from api.web._kit import (
    FormStr,
    Visitor,
    check_csrf,
    hood_for_page,
    redirect,
    render,
    signed_in,
)
from qet_geo.errors import QetGeoError
from qet_geo.i18n import msg
from qet_geo.store.jobs import access_key
from qet_geo.store.models import Neighbourhood, NotFoundError, extract_path, territory_geometry

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

#: The most bytes of a form's small fields (the CSRF token) read from a streamed upload.
_FIELD_BYTES = 4096
#: Bytes of a multipart body beyond its file (boundaries, headers, the CSRF field).
_FORM_SLACK = 64 * 1024


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _writable(request: Request, session: Session, visitor: Visitor, hood_id: str) -> Neighbourhood:
    """The neighbourhood of the URL if the visitor may change it (the API's write rule): the
    404 page for another team's, the 403 page for a read-only role."""
    hood = hood_for_page(request, session, visitor, hood_id)
    try:
        return neighbourhood_for(session, visitor.caller, hood.id, access="write")
    except NotFoundError:
        raise _kit.not_found(request, visitor) from None
    except PermissionDeniedError:
        raise _kit.forbidden(request, visitor) from None


def _limits(settings: Settings) -> WorkerLimits:
    return WorkerLimits(
        timeout_s=settings.osm_timeout_s,
        memory_bytes=settings.osm_memory_bytes,
        slots=settings.osm_workers,
    )


# --------------------------------------------------------------------------------------------------
# what an extract holds (read in a worker)


#: The languages whose warnings are kept (the pages' two).
_LANGS = ("fr", "en")
#: The kept files' layout: a change here must change it, so that older files are not misread.
_KEPT_VERSION = 1


def keep_layers(
    osm_path: str,
    territory_wkt: str | None,
    name: str,
    *,
    summary_file: str,
    streets_file: str,
    map_files: dict[str, str] | None = None,
) -> None:
    """Read the neighbourhood's layers and keep what the pages show of them in files.

    Runs in a worker process (module level, picklable arguments, no answer: a large one is not
    read whole from a pipe that the server's event loop made non-blocking). Each file is written
    to a temporary name of its folder, then renamed over the target: a reader never sees half a
    file, and two processes computing the same files at once leave one whole.

    Parameters
    ----------
    osm_path
        The extract.
    territory_wkt
        The territory (EPSG:2154), or None: the whole extract.
    name
        The neighbourhood's name (the maps' title).
    summary_file
        Where the counts and warnings go (JSON): ``buildings``, ``homes`` (residential
        buildings in the territory), ``amenities`` (category → count), ``transit_stops``,
        ``cycleways_km``, ``warnings`` (language → texts, with the extract's file name, never
        its folder).
    streets_file
        Where the streets go (GeoJSON FeatureCollection, WGS84).
    map_files
        Language → where the layers' folium page in that language goes; None: no map.
    """
    import shapely
    import shapely.geometry

    from qet_geo.crs import WGS84
    from qet_geo.inputs.territory import Territory
    from qet_geo.layers import build_layers

    path = Path(osm_path)
    territory = (
        None
        if territory_wkt is None
        else Territory(name=name, geometry=shapely.from_wkt(territory_wkt), source="store")
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = build_layers(path, territory=territory)
    texts: dict[str, list[str]] = {lang: [] for lang in _LANGS}
    for w in caught:
        localized = getattr(w.message, "localized", None)
        if callable(localized):  # the library's warnings (QetGeoWarning), not a dependency's
            for lang in _LANGS:
                texts[lang].append(str(localized(lang)).replace(str(path), path.name))
    layers = result.layers
    buildings = layers["buildings"]
    residential = buildings[buildings["residential"].astype(bool)]
    homes = residential[residential.representative_point().intersects(result.territory.geometry)]
    amenities = layers["amenities"]["category"].value_counts()
    for lang in _LANGS:
        texts[lang].extend(_network_notes(result, len(homes), lang))
    summary: dict[str, Any] = {
        "version": _KEPT_VERSION,
        "buildings": len(buildings),
        "homes": len(homes),
        "amenities": {str(k): int(v) for k, v in amenities.sort_index().items()},
        "transit_stops": len(layers["transit_stops"]),
        "cycleways_km": round(float(layers["cycleways"].length.sum()) / 1000, 2),
        "warnings": texts,
    }
    lines = shapely.set_precision(layers["streets"].geometry.to_crs(WGS84).array, 1e-6)
    streets = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(g)}
            for g in lines
            if g is not None and not g.is_empty
        ],
    }
    for lang, target in (map_files or {}).items():
        _write_atomically(Path(target), _layers_map(result, name, lang))
    _write_atomically(Path(streets_file), json.dumps(streets, separators=(",", ":")))
    # the summary last: its presence says the streets are there too
    _write_atomically(Path(summary_file), json.dumps(summary, separators=(",", ":")))


def _write_atomically(target: Path, text: str) -> None:
    """Write ``text`` to a temporary file of ``target``'s folder, then rename it over ``target``."""
    temporary = target.with_name(f".layers-{os.getpid()}-{secrets.token_hex(6)}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _network_notes(result: Any, n_homes: int, lang: str) -> list[str]:
    """Isolated streets (not joined to the main walking network) and homes whose 15-minute walk
    reaches the extract's edge, in words."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from qet_geo.constraints.access import border_homes

    notes = []
    nodes, edges = result.graphs["walk"]
    if len(nodes) and len(edges):
        position = {node: i for i, node in enumerate(nodes.index)}
        u = np.array([position[k[0]] for k in edges.index])
        v = np.array([position[k[1]] for k in edges.index])
        graph = coo_matrix((np.ones(len(u)), (u, v)), shape=(len(nodes), len(nodes)))
        _, labels = connected_components(graph, directed=False)
        main = np.bincount(labels).argmax()
        isolated = int((labels[u] != main).sum())
        if isolated:
            notes.append(
                msg(
                    "{n} tronçon(s) de rue sur {total} ne sont pas reliés au reste du réseau "
                    "piéton (rues isolées) : les logements qui n'ont qu'eux n'auront pas de "
                    "chiffres d'accès.",
                    n=isolated,
                    total=len(edges),
                ).render(lang)
            )
    if n_homes:
        try:
            edge = int(border_homes(result, mode="walk").sum())
        except QetGeoError:
            edge = 0
        if edge:
            notes.append(
                msg(
                    "{n} logement(s) sur {homes} atteignent le bord de l'extrait en 15 minutes à "
                    "pied : leurs chiffres à 15 minutes peuvent être coupés. Un extrait plus "
                    "large que le quartier lève cette limite.",
                    n=edge,
                    homes=n_homes,
                ).render(lang)
            )
    return notes


def _layers_map(result: Any, name: str, lang: str) -> str:
    from maps._base import add_title, make_basemap, stable_ids
    from maps.constraints import make_amenities_map, make_transit_map

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = make_basemap(result, lang=lang)
        if len(result.layers["amenities"]):
            m = make_amenities_map(result.layers["amenities"], m=m, lang=lang)
        if len(result.layers["transit_stops"]):
            m = make_transit_map(result.layers["transit_stops"], m=m, lang=lang)
    add_title(m, msg("{name} : couches du quartier", name=name).render(lang))
    return str(stable_ids(m).get_root().render())


# --------------------------------------------------------------------------------------------------
# what an extract holds, kept beside it


@dataclass(frozen=True)
class _Kept:
    """The files kept for one extract (as it is on disk now) and one territory.

    Named ``<extract>.access-<key>-layers-<identity>…``: ``key`` is the analysis's
    (:func:`qet_geo.store.jobs.access_key`, the extract's name and the territory), so that a new
    outline is another name, the analysis keeps these files with its own tables of the same key,
    and a replaced extract's removal takes them along; ``identity`` is the file's size, time and
    inode, so that an extract rewritten under the same name is read again.
    """

    folder: Path
    stem: str

    @property
    def summary(self) -> Path:
        return self.folder / f"{self.stem}-summary.json"

    @property
    def streets(self) -> Path:
        return self.folder / f"{self.stem}-streets.json"

    def map(self, lang: str, name: str) -> Path:
        """The layers' map in ``lang``, titled with the neighbourhood's ``name``."""
        named = hashlib.sha256(name.encode()).hexdigest()[:12]
        return self.folder / f"{self.stem}-map-{lang}-{named}.html"


def _kept_files(osm_dir: Any, extract: str | None, territory: Any) -> tuple[Path, _Kept]:
    """The extract's path (:func:`~qet_geo.store.models.extract_path`: refused outside the OSM
    folder) and the files kept for it as it is now."""
    path = extract_path(osm_dir, extract)
    try:
        status = path.stat()
    except FileNotFoundError:  # removed since: the same error as if it had been missing
        extract_path(osm_dir, extract)
        raise
    identity = hashlib.sha256(
        f"{_KEPT_VERSION}:{status.st_size}:{status.st_mtime_ns}:{status.st_ino}".encode()
    ).hexdigest()[:12]
    return path, _Kept(
        path.parent, f"{path.name}.access-{access_key(str(extract), territory)}-layers-{identity}"
    )


def _remove_stale(kept: _Kept) -> None:
    """Remove the files kept for an earlier state of the same extract name and territory (an
    extract rewritten in place). Other territories' files are left: the analysis
    (:func:`qet_geo.store.jobs.access_key`'s files) and the extract's replacement remove them."""
    from qet_geo.store.jobs import glob_escape

    same_key = kept.stem.rsplit("-layers-", 1)[0] + "-layers-"
    for path in kept.folder.glob(glob_escape(same_key) + "*"):
        if not path.name.startswith(f"{kept.stem}-"):
            path.unlink(missing_ok=True)


#: Kept files already read and checked by this process, by path, size, time and inode (a file
#: rewritten is another entry); the oldest go first.
_READ: OrderedDict[tuple[str, int, int, int], Any] = OrderedDict()
_READ_LOCK = threading.Lock()
_READ_MOST = 16


def _read_kept(path: Path, parse: Callable[[str], Any]) -> Any:
    """What ``parse`` makes of a kept file; None if it is missing or unreadable (corrupt, cut,
    of another layout): it is then computed again and written over."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    seen = (str(path), status.st_size, status.st_mtime_ns, status.st_ino)
    with _READ_LOCK:
        if seen in _READ:
            _READ.move_to_end(seen)
            return _READ[seen]
    try:
        value = parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        logger.warning("kept layers file %s unreadable: computed again", path.name)
        return None
    with _READ_LOCK:
        _READ[seen] = value
        while len(_READ) > _READ_MOST:
            _READ.popitem(last=False)
    return value


def _summary_of(text: str) -> dict[str, Any]:
    summary = json.loads(text)
    if not isinstance(summary, dict) or summary.get("version") != _KEPT_VERSION:
        raise ValueError("not a summary of this layout")
    for key, kind in (
        ("buildings", int),
        ("homes", int),
        ("amenities", dict),
        ("transit_stops", int),
        ("cycleways_km", (int, float)),
        ("warnings", dict),
    ):
        if not isinstance(summary[key], kind):
            raise TypeError(key)
    if any(not isinstance(summary["warnings"][lang], list) for lang in _LANGS):
        raise TypeError("warnings")
    return summary


def _streets_of(text: str) -> str:
    if json.loads(text).get("type") != "FeatureCollection":
        raise ValueError("not a FeatureCollection")
    return text


def _map_of(text: str) -> str:
    if not (text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")):
        raise ValueError("not a whole page")
    return text


def _read_all(kept: _Kept, *, with_streets: bool, map_file: Path | None) -> dict[str, Any] | None:
    """The kept summary, with the streets and the map asked for; None if one is missing."""
    summary = _read_kept(kept.summary, _summary_of)
    if summary is None:
        return None
    found = dict(summary)
    if with_streets:
        found["streets"] = _read_kept(kept.streets, _streets_of)
        if found["streets"] is None:
            return None
    if map_file is not None:
        found["map"] = _read_kept(map_file, _map_of)
        if found["map"] is None:
            return None
    return found


#: Per event loop (asyncio primitives belong to one), the lock of each kept files' stem that
#: requests are computing: the first computes, the others wait, then read its files.
_COMPUTING: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakValueDictionary[str, asyncio.Lock]
] = weakref.WeakKeyDictionary()


def _lock_of(stem: str) -> asyncio.Lock:
    per_loop = _COMPUTING.setdefault(asyncio.get_running_loop(), weakref.WeakValueDictionary())
    lock = per_loop.get(stem)
    if lock is None:
        lock = asyncio.Lock()
        per_loop[stem] = lock
    return lock


async def extract_layers(
    request: Request, hood: Neighbourhood, *, with_map: bool = False, with_streets: bool = False
) -> dict[str, Any]:
    """What the neighbourhood's stored extract holds, as the pages show it.

    Read from the files kept beside the extract; computed first (:func:`keep_layers`, in a
    worker, under the extract's limits) when they are missing, unreadable, or for another
    extract or territory. Concurrent first requests of this process compute once. The caller
    gives back its store connection before (a request waiting for a worker holds none).

    Returns
    -------
    dict
        ``buildings``, ``homes``, ``amenities``, ``transit_stops``, ``cycleways_km``,
        ``warnings`` (texts in the reader's language), ``streets`` (GeoJSON text) when
        ``with_streets``, ``map`` (the folium page) when ``with_map``.

    Raises
    ------
    QetGeoError
        No extract, or one the worker cannot read (within its limits).
    """
    settings = _settings(request)
    lang = _kit.lang_of(request)
    territory = territory_geometry(hood)
    path, kept = await run_in_threadpool(_kept_files, settings.osm_dir, hood.osm_extract, territory)
    map_file = kept.map(lang, hood.name) if with_map else None
    found = await run_in_threadpool(_read_all, kept, with_streets=with_streets, map_file=map_file)
    if found is None:
        lock = _lock_of(kept.stem)
        async with lock:
            found = await run_in_threadpool(
                _read_all, kept, with_streets=with_streets, map_file=map_file
            )
            if found is None:
                found = await _computed(settings, path, territory, hood.name, kept, lang, with_map)
    found["warnings"] = list(found["warnings"][lang])
    found.pop("version", None)
    if not with_streets:
        found.pop("streets", None)
    return found


async def _computed(
    settings: Settings,
    path: Path,
    territory: Any,
    name: str,
    kept: _Kept,
    lang: str,
    with_map: bool,
) -> dict[str, Any]:
    """Run :func:`keep_layers` and read its files back (in a temporary folder when the extract's
    folder cannot be written: computed again next time, as before there were kept files)."""
    limits = _limits(settings)
    with (
        refused_past_limits(
            limits,
            what=msg("l'extrait"),
            fix=msg(
                "découpez-le sur le territoire plus 1 km (osmium extract) et déposez-le à nouveau."
            ),
        ),
        tempfile.TemporaryDirectory(prefix="qet-web-") as scratch,
    ):
        if not os.access(kept.folder, os.W_OK):
            logger.warning("the OSM folder cannot be written: the layers are not kept")
            kept = replace(kept, folder=Path(scratch))
        map_file = kept.map(lang, name) if with_map else None
        await run_in_worker(
            keep_layers,
            str(path),
            None if territory is None else territory.wkt,
            name,
            summary_file=str(kept.summary),
            streets_file=str(kept.streets),
            map_files=None if map_file is None else {lang: str(map_file)},
            limits=limits,
        )
        found = await run_in_threadpool(_read_all, kept, with_streets=True, map_file=map_file)
        try:
            await run_in_threadpool(_remove_stale, kept)
        except OSError:
            logger.exception("could not remove the stale layers of %s", path.name)
    if found is None:  # written a moment ago: only removed or spoilt since by someone else
        raise RuntimeError(f"the kept layers of {path.name} vanished")
    return found


def _category_rows(amenities: dict[str, int], lang: str) -> list[tuple[str, int]]:
    from qet_geo.taxonomy import CATEGORY_LABELS

    return [
        (CATEGORY_LABELS[c].render(lang) if c in CATEGORY_LABELS else c, n)
        for c, n in amenities.items()
    ]


# --------------------------------------------------------------------------------------------------
# the outline


def _outline_page(
    request: Request,
    visitor: Visitor,
    hood: Neighbourhood,
    *,
    error: str | None = None,
    geojson: str = "",
    status: int = 200,
) -> HTMLResponse:
    territory = territory_geometry(hood)
    described = None if territory is None else territory_out(hood.id, territory)
    return render(
        request,
        "hood_outline.html",
        {
            "hood": hood,
            "territory": described,
            "error": error,
            "geojson": geojson,
            "saved": request.query_params.get("fait") == "1",
        },
        visitor=visitor,
        status=status,
    )


@router.get("/espace/quartiers/{hood_id}/contour", response_class=HTMLResponse)
def outline_page(request: Request, session: SessionDep, hood_id: str) -> Response:
    """The outline: its state, a file to upload, a map to draw it."""
    visitor = signed_in(request, session)
    hood = _writable(request, session, visitor, hood_id)
    return _outline_page(request, visitor, hood)


@router.post("/espace/quartiers/{hood_id}/contour", response_class=HTMLResponse)
def set_outline(
    request: Request,
    session: SessionDep,
    hood_id: str,
    fichier: Annotated[UploadFile | None, File()] = None,
    geojson: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Set the outline from the uploaded file, else from the drawn (or pasted) GeoJSON."""
    visitor = signed_in(request, session)
    check_csrf(request, visitor, csrf)
    hood = _writable(request, session, visitor, hood_id)
    lang = _kit.lang_of(request)
    settings = _settings(request)
    text = ""
    if fichier is not None and fichier.filename:
        text = fichier.file.read(settings.max_territory_bytes + 1).decode("utf-8-sig", "replace")
        shown = ""
    else:
        text = geojson
        shown = geojson[:200_000]
    if not text.strip():
        error = msg(
            "Aucun contour reçu : choisissez un fichier GeoJSON ou dessinez le contour sur la "
            "carte, puis enregistrez."
        )
        return _outline_page(request, visitor, hood, error=error.render(lang), status=400)
    if len(text.encode()) > settings.max_territory_bytes:
        error = msg(
            "Le fichier dépasse {limit} octets : simplifiez le contour (QGIS : Simplifier).",
            limit=settings.max_territory_bytes,
        )
        return _outline_page(request, visitor, hood, error=error.render(lang), status=400)
    try:
        data = json.loads(text)
    except ValueError:
        error = msg(
            "Ce fichier n'est pas du GeoJSON lisible : exportez le contour en GeoJSON (QGIS, "
            "geojson.io) et envoyez-le à nouveau."
        )
        return _outline_page(
            request, visitor, hood, error=error.render(lang), geojson=shown, status=400
        )
    try:
        projected = checked_territory_geojson(data, settings.max_territory_vertices)
    except QetGeoError as exc:
        return _outline_page(
            request, visitor, hood, error=_kit.error_sentence(exc, lang), geojson=shown, status=400
        )
    hood.territory_wkt = projected.wkt
    session.flush()
    return redirect(f"/espace/quartiers/{hood.id}/contour?fait=1")


#: Where the shared data folder keeps the contours the codes are looked up in: communes per
#: département (``communes-56-morbihan.geojson``), IRIS contours (a file named ``*iris*``).
_COMMUNES = "census/communes"
_IRIS_GLOBS = ("census/**/*[Ii][Rr][Ii][Ss]*.gpkg", "census/**/*[Ii][Rr][Ii][Ss]*.shp")


def territory_from_codes(kind: str, codes: list[str], shared_dir: str) -> str:
    """The outline of a commune or of IRIS units from the shared data's contours, as GeoJSON
    (WGS84) text, to go through the same check as a drawn or uploaded outline.

    Runs in a worker (reading a département's communes takes a second).

    Raises
    ------
    DataCoverageError
        The shared data has no contours for these codes (their département's file is missing).
    ValidationError
        A code the contours do not have (the library's message).
    """
    import geopandas as gpd

    from qet_geo.crs import WGS84, WORK_CRS
    from qet_geo.errors import DataCoverageError
    from qet_geo.inputs.territory import territory_from_commune, territory_from_iris

    folder = Path(shared_dir)
    if kind == "commune":
        code = codes[0]
        found = sorted((folder / _COMMUNES).glob(f"communes-{code[:2].lower()}-*.geojson"))
        if not found:
            raise DataCoverageError(
                msg(
                    "les données partagées n'ont pas les communes du département {dep} : "
                    "dessinez le contour ou déposez-le en GeoJSON, ou demandez à l'administrateur "
                    "d'ajouter le fichier communes-{dep}-….geojson.",
                    dep=code[:2],
                )
            )
        geometry = territory_from_commune(code, found[0]).geometry
    else:
        layers = sorted(p for pattern in _IRIS_GLOBS for p in folder.glob(pattern))
        geometry = None
        for layer in layers:
            try:
                geometry = territory_from_iris(codes, layer).geometry
                break
            except QetGeoError:
                continue
        if geometry is None:
            raise DataCoverageError(
                msg(
                    "aucun fichier de contours IRIS des données partagées n'a tous ces codes "
                    "({codes}) : vérifiez-les, ou dessinez le contour ou déposez-le en GeoJSON.",
                    codes=", ".join(codes),
                )
            )
    shape = gpd.GeoSeries([geometry], crs=WORK_CRS).to_crs(WGS84).iloc[0]
    return json.dumps(shape.__geo_interface__)


def _codes(text: str) -> list[str]:
    return [c for c in text.replace(",", " ").replace(";", " ").split() if c][:200]


@router.post("/espace/quartiers/{hood_id}/contour/codes", response_class=HTMLResponse)
async def set_outline_from_codes(
    request: Request,
    session: SessionDep,
    hood_id: str,
    commune: FormStr = "",
    iris: FormStr = "",
    csrf: FormStr = "",
) -> Response:
    """Set the outline to a commune (its INSEE code) or to IRIS units (their codes)."""
    visitor = await run_in_threadpool(signed_in, request, session)
    check_csrf(request, visitor, csrf)
    hood = await run_in_threadpool(_writable, request, session, visitor, hood_id)
    await run_in_threadpool(session.close)  # no store connection held while the worker reads
    lang = _kit.lang_of(request)
    settings = _settings(request)
    kind, codes = ("commune", _codes(commune)[:1]) if commune.strip() else ("iris", _codes(iris))
    shared_dir = request.app.state.shared_data
    if not codes or any(not c.isalnum() or len(c) > 12 for c in codes):
        error = msg(
            "Donnez un code de commune INSEE (5 caractères, 56121 pour Lorient) ou des codes "
            "IRIS (9 chiffres, séparés par des espaces)."
        ).render(lang)
        return await run_in_threadpool(
            _outline_page, request, visitor, hood, error=error, status=400
        )
    try:
        if shared_dir is None:
            raise QetGeoError(
                msg(
                    "le service n'a pas de dossier de données partagées (QET_SHARED_DATA) : "
                    "dessinez le contour ou déposez-le en GeoJSON."
                )
            )
        limits = _limits(settings)
        with refused_past_limits(
            limits, what=msg("le fichier des contours"), fix=msg("dessinez le contour.")
        ):
            text = await run_in_worker(
                territory_from_codes, kind, codes, str(shared_dir), limits=limits
            )
        projected = await run_in_threadpool(
            checked_territory_geojson, json.loads(text), settings.max_territory_vertices
        )
    except QetGeoError as exc:
        return await run_in_threadpool(
            _outline_page,
            request,
            visitor,
            hood,
            error=_kit.error_sentence(exc, lang),
            status=400,
        )

    def save() -> None:
        stored = session.get(Neighbourhood, hood.id)
        if stored is None:  # removed meanwhile
            raise _kit.not_found(request, visitor)
        stored.territory_wkt = projected.wkt
        session.flush()

    await run_in_threadpool(save)
    return redirect(f"/espace/quartiers/{hood.id}/contour?fait=1")


@router.get("/espace/quartiers/{hood_id}/contour/rues.json")
async def outline_streets(request: Request, session: SessionDep, hood_id: str) -> Response:
    """The streets of the neighbourhood's extract (WGS84 GeoJSON) and its outline, for the
    drawing map; ``streets`` is null without an extract.

    The streets are the kept ones (:func:`extract_layers`), sent as they are kept: their text
    goes into the answer without being parsed and written again.
    """
    visitor = await run_in_threadpool(signed_in, request, session)
    hood = await run_in_threadpool(_writable, request, session, visitor, hood_id)
    await run_in_threadpool(session.close)  # no store connection held while a worker reads
    return await streets_and_outline(request, hood)


async def streets_and_outline(request: Request, hood: Neighbourhood) -> Response:
    """``{"streets": ..., "territory": ...}``: the extract's streets and the outline (WGS84
    GeoJSON), for the maps where an outline is drawn or stops are picked; each null when the
    neighbourhood has none (or the extract cannot be read).

    The streets are the kept ones (:func:`extract_layers`: computed in a worker once per
    extract and outline, read from their file afterwards), sent as they are kept: their text
    goes into the answer without being parsed and written again. The caller has given back
    its store connection.
    """
    streets = "null"
    if hood.osm_extract:
        try:
            streets = (await extract_layers(request, hood, with_streets=True))["streets"]
        except QetGeoError:
            streets = "null"
    territory = territory_geometry(hood)
    outline = None
    if territory is not None:
        import geopandas as gpd

        from qet_geo.crs import WGS84, WORK_CRS

        outline = gpd.GeoSeries([territory], crs=WORK_CRS).to_crs(WGS84).iloc[0].__geo_interface__
    # what JSONResponse would write ({"streets": ..., "territory": ...}, compact)
    body = (
        '{"streets":'
        + streets
        + ',"territory":'
        + json.dumps(outline, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        + "}"
    )
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


# --------------------------------------------------------------------------------------------------
# the OSM extract


@router.get("/espace/quartiers/{hood_id}/extrait", response_class=HTMLResponse)
def extract_page(request: Request, session: SessionDep, hood_id: str) -> Response:
    """The form uploading the neighbourhood's OSM extract."""
    visitor = signed_in(request, session)
    hood = _writable(request, session, visitor, hood_id)
    return render(
        request,
        "hood_extract.html",
        {"hood": hood, "error": None, "info": None, "summary": None, "categories": []},
        visitor=visitor,
    )


class _StreamedForm:
    """A multipart form read as it arrives: its file part yielded chunk by chunk, its other
    (small) fields kept. The body is read through :func:`api._limits.limited_chunks`."""

    def __init__(self, request: Request, limit: int, file_field: str) -> None:
        _, params = parse_options_header(request.headers.get("content-type", ""))
        boundary = params.get(b"boundary")
        if not boundary:
            raise _NotAForm
        self.request = request
        self.limit = limit
        self.file_field = file_field
        self.fields: dict[str, bytes] = {}
        self.filename: str | None = None
        self._pending: list[bytes] = []
        self._name: str | None = None
        self._is_file = False
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": self._on_field,
                "on_header_value": self._on_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done,
                "on_part_data": self._data,
            },
        )

    def _begin(self) -> None:
        self._headers = {}
        self._name = None
        self._is_file = False

    def _on_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _headers_done(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        self._name = name
        self._is_file = name == self.file_field
        if self._is_file:
            self.filename = params.get(b"filename", b"").decode("utf-8", "replace")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self._pending.append(data[start:end])
        elif self._name is not None:
            value = self.fields.get(self._name, b"") + data[start:end]
            self.fields[self._name] = value[:_FIELD_BYTES]

    async def file_chunks(self) -> AsyncIterator[bytes]:
        """Yield the file part's bytes as the body arrives (all the body is read)."""
        async for chunk in limited_chunks(self.request, self.limit + _FORM_SLACK):
            self._parser.write(chunk)
            while self._pending:
                yield self._pending.pop(0)
        self._parser.finalize()
        while self._pending:
            yield self._pending.pop(0)

    def field(self, name: str) -> str:
        return self.fields.get(name, b"").decode("utf-8", "replace")


class _NotAForm(Exception):
    """The body is not a multipart form."""


@router.post("/espace/quartiers/{hood_id}/extrait", response_class=HTMLResponse)
async def upload_extract(request: Request, session: SessionDep, hood_id: str) -> Response:
    """Check and store an uploaded extract (in a worker), then show what it holds."""
    visitor = await run_in_threadpool(signed_in, request, session)
    hood = await run_in_threadpool(_writable, request, session, visitor, hood_id)
    await run_in_threadpool(session.close)  # none held while the body arrives and a worker reads
    hood_key = hood.id
    settings = _settings(request)
    lang = _kit.lang_of(request)

    def page(error: str | None, status: int, info: Any = None, summary: Any = None) -> Response:
        categories = _category_rows(summary["amenities"], lang) if summary else []
        return render(
            request,
            "hood_extract.html",
            {
                "hood": hood,
                "error": error,
                "info": info,
                "summary": summary,
                "categories": categories,
            },
            visitor=visitor,
            status=status,
        )

    try:
        form = _StreamedForm(request, settings.max_osm_bytes, "fichier")
    except _NotAForm:
        raise _kit.csrf_refused(request, visitor) from None
    try:
        folder = osm_folder(settings)
        async with received_extract(form.file_chunks(), folder) as tmp:
            # the token is checked once the body is read, before anything of it is used
            check_csrf(request, visitor, form.field("csrf"))
            if tmp.stat().st_size > settings.max_osm_bytes:
                raise QetGeoError(
                    msg(
                        "le fichier dépasse {limit} octets : découpez-le sur le territoire plus "
                        "1 km (osmium extract).",
                        limit=settings.max_osm_bytes,
                    )
                )
            info = await read_extract(settings, hood_key, tmp, folder)
    except _kit.PageExit:
        raise
    except QetGeoError as exc:
        check_csrf(request, visitor, form.field("csrf"))  # a form without its token: refused
        if not form.filename:
            text = msg(
                "Aucun fichier reçu : choisissez l'extrait (.osm.pbf, .osm, .osm.gz ou "
                ".osm.bz2), puis envoyez."
            ).render(lang)
        else:
            text = _kit.error_sentence(exc, lang)
        return page(text, 400)
    stored = await run_in_threadpool(session.get, Neighbourhood, hood_key)  # its new extract
    await run_in_threadpool(session.close)
    if stored is None:  # removed meanwhile
        raise _kit.not_found(request, visitor)
    hood = stored
    try:
        summary = await extract_layers(request, hood)
    except QetGeoError:
        summary = None
    return page(None, 200, info=info, summary=summary)


# --------------------------------------------------------------------------------------------------
# the layers


@router.get("/espace/quartiers/{hood_id}/couches", response_class=HTMLResponse)
async def layers_page(request: Request, session: SessionDep, hood_id: str) -> Response:
    """The neighbourhood's layers: counts, warnings, and a link to their map."""
    visitor = await run_in_threadpool(signed_in, request, session)
    hood = await run_in_threadpool(hood_for_page, request, session, visitor, hood_id)
    await run_in_threadpool(session.close)  # no store connection held while a worker reads
    lang = _kit.lang_of(request)
    summary = error = None
    if hood.osm_extract:
        try:
            summary = await extract_layers(request, hood)
        except QetGeoError as exc:
            error = _kit.error_sentence(exc, lang)
    categories = _category_rows(summary["amenities"], lang) if summary else []
    return render(
        request,
        "hood_layers.html",
        {
            "hood": hood,
            "summary": summary,
            "categories": categories,
            "error": error,
            "has_territory": hood.territory_wkt is not None,
        },
        visitor=visitor,
    )


@router.get("/cartes/quartiers/{hood_id}/couches", response_class=HTMLResponse)
async def layers_map(request: Request, session: SessionDep, hood_id: str) -> Response:
    """The layers' map: a self-contained folium page under the maps' policy (inline scripts,
    no other host, not framed)."""
    visitor = await run_in_threadpool(signed_in, request, session)
    hood = await run_in_threadpool(hood_for_page, request, session, visitor, hood_id)
    await run_in_threadpool(session.close)  # no store connection held while a worker reads
    if not hood.osm_extract:
        raise _kit.not_found(request, visitor)
    try:
        summary = await extract_layers(request, hood, with_map=True)
    except QetGeoError:
        raise _kit.not_found(request, visitor) from None
    return HTMLResponse(summary["map"], headers={"Cache-Control": "no-store"})
