"""The service's offline HTML maps: a diagnostic's published cells, the national comparison."""

from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path as FilePath
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from api.dependencies import CallerDep, SessionDep, SettingsDep, diagnostic_for, missing
from api.errors import request_lang
from api.models import NationalRow
from api.routers.aggregates import reads_live
from api.routers.national import national_rows
from qet_geo.crs import WORK_CRS
from qet_geo.errors import EmptyDataError, QetGeoError
from qet_geo.i18n import Msg, msg
from qet_geo.privacy import MIN_RESPONDENTS
from qet_geo.store.models import Neighbourhood, extract_path, territory_geometry

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

logger = logging.getLogger(__name__)
router = APIRouter()
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
# Errors of an HTML route are still JSON: documented as such, not as text/html.
_JSON_ERROR: dict[str, object] = {
    "description": "Erreur",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
}


@router.get(
    "/diagnostics/{diagnostic_id}/map",
    response_class=HTMLResponse,
    responses={code: _JSON_ERROR for code in (401, 404, 422)},
    tags=["diagnostics"],
)
def diagnostic_map(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    diagnostic_id: Id,
) -> HTMLResponse:
    """Offline HTML map of usage profiles and footprints per published 200 m cell.

    The map of the latest release; the pilot team of the neighbourhood (and the admin) sees the
    live preview of its data instead. Drawn over the neighbourhood's own streets, buildings,
    water and parks, read from its OSM extract (a note says so when it has none), with a title,
    a legend per layer and, for synthetic answers, the banner that says so. French, or English
    with ``Accept-Language: en``; 422 when there is nothing to map.
    """
    diag = diagnostic_for(session, caller, diagnostic_id)
    hood = session.get(Neighbourhood, diag.neighbourhood_id)
    if hood is None:  # deleted meanwhile
        raise missing("diagnostic", diagnostic_id)
    lang = request_lang(request)
    page = _DiagnosticPage(
        name=hood.name,
        year=diag.year,
        synthetic=bool(diag.synthetic),
        hood_id=hood.id,
        osm_dir=settings.osm_dir,
        extract=hood.osm_extract,
        territory=territory_geometry(hood),
        lang=lang,
    )
    cache = request.app.state.aggregates
    read = cache.live_map if reads_live(session, caller, diag) else cache.released_map
    return HTMLResponse(read(session, diag.id, draw=page.draw, lang=lang, key=page.key))


@dataclass(frozen=True)
class _DiagnosticPage:
    """What a diagnostic's map page shows besides its cells, and how it is drawn."""

    name: str
    year: int
    synthetic: bool
    hood_id: int
    osm_dir: str | None
    extract: str | None
    territory: BaseGeometry | None
    lang: str

    @property
    def key(self) -> tuple[Any, ...]:
        """What the page depends on besides the figures (the cache keeps it with the page)."""
        wkb = None if self.territory is None else self.territory.wkb
        return (self.name, self.year, self.synthetic, self.osm_dir, self.extract, wkb)

    def draw(self, cells: pd.DataFrame, release: int | None) -> str:
        """Render the page: basemap, the cells' layers and legends, title, banner, notes."""
        from maps._base import add_note, add_synthetic_banner, add_title, make_basemap, stable_ids
        from maps.profiles import make_profiles_map

        layers, note = self._basemap_layers()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = None if layers is None else make_basemap(layers, lang=self.lang)
            m = make_profiles_map(
                cells, profile="profile", footprint="total_kgco2e", m=m, lang=self.lang
            )
        if release is None:
            title = msg(
                "{name}, année {year} : profils d'usages et empreinte carbone par carreau de "
                "200 m (aperçu de vos données, non publié)",
                name=self.name,
                year=self.year,
            )
        else:
            title = msg(
                "{name}, année {year}, publication n° {number} : profils d'usages et empreinte "
                "carbone par carreau de 200 m",
                name=self.name,
                year=self.year,
                number=release,
            )
        add_title(m, title.render(self.lang))
        if self.synthetic:
            add_synthetic_banner(m, lang=self.lang)
        if note is not None:
            add_note(m, note.render(self.lang))
        return str(stable_ids(m).get_root().render())

    def _basemap_layers(self) -> tuple[Any, Msg | None]:
        """The neighbourhood's layers read from its extract, or None and why there are none."""
        from qet_geo.inputs.territory import Territory
        from qet_geo.layers import build_layers

        if not self.extract:
            return None, msg(
                "Pas de fond de carte : ce quartier n'a pas d'extrait OSM (envoyez-le avec PUT "
                "/neighbourhoods/{id}/osm-extract).",
                id=self.hood_id,
            )
        try:
            path = extract_path(self.osm_dir, self.extract)
            territory = (
                None
                if self.territory is None
                else Territory(name=self.name, geometry=self.territory, source="store")
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return build_layers(path, territory=territory), None
        except QetGeoError:
            logger.warning("the extract of neighbourhood %s could not be read", self.hood_id)
            return None, msg(
                "Pas de fond de carte : l'extrait OSM de ce quartier n'a pas pu être lu "
                "(envoyez-le à nouveau avec PUT /neighbourhoods/{id}/osm-extract).",
                id=self.hood_id,
            )


@router.get(
    "/national/map",
    response_class=HTMLResponse,
    responses={code: _JSON_ERROR for code in (401, 422)},
    tags=["comparaisons"],
)
def national_map(request: Request, session: SessionDep, caller: CallerDep) -> HTMLResponse:
    """Offline HTML map of the national comparison: each neighbourhood on its territory.

    The rows of ``GET /national`` (the same neighbourhoods, the same protected figures),
    coloured by the mean total footprint per person; tooltips give the footprints, the profile
    mix, the constraint indicators, the type and the rank. A neighbourhood of fewer than 11
    respondents shows its name only. Neighbourhoods without a territory are not drawn: a note
    on the map lists them, as another lists the synthetic neighbourhoods left out of a
    comparison of real ones (``compared`` false); a comparison of synthetic neighbourhoods only
    carries the synthetic banner. Drawn on France's régions and départements, read from the shared
    data folder (``QET_SHARED_DATA``; a note says so when they are missing), with a title and
    the legend of the footprint. French, or English with ``Accept-Language: en``; 422 when no
    neighbourhood the caller may see can be placed.
    """
    rows = national_rows(request, caller)
    territories = {
        row.neighbourhood_id: territory_geometry(hood)
        for row in rows
        if (hood := session.get(Neighbourhood, row.neighbourhood_id)) is not None
    }
    background, lacking = france_background(request.app.state.shared_data)
    html = _national_map_html(
        rows, territories, lang=request_lang(request), background=background, lacking=lacking
    )
    return HTMLResponse(html)


#: France's régions and départements (Etalab's simplified contours), in the shared data folder.
FRANCE_FILES = (
    "census/communes/regions-version-simplifiee.geojson",
    "census/communes/departements-version-simplifiee.geojson",
)


def france_background(folder: FilePath | None) -> tuple[list[Any], list[str]]:
    """Read France's régions and départements from the shared data folder, for the national map.

    Returns
    -------
    tuple
        The tables found (régions first), and the names of the files missing or unreadable:
        the map is drawn without them and says so.
    """
    found, lacking = [], []
    for name in FRANCE_FILES:
        try:
            if folder is None:
                raise FileNotFoundError(name)
            path = FilePath(folder) / name
            found.append(_read_outlines(path, path.stat().st_mtime_ns))
        except (OSError, ValueError):
            lacking.append(PurePosixPath(name).name)
    return found, lacking


@functools.lru_cache(maxsize=4)
def _read_outlines(path: FilePath, mtime_ns: int) -> Any:
    """Read a file of outlines once per version (``mtime_ns``); ValueError when unreadable."""
    import geopandas as gpd

    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio's errors are not OSError
        raise ValueError(str(path)) from exc
    return frame[["geometry"]]


def _national_map_html(
    rows: list[NationalRow],
    territories: dict[int, Any],
    *,
    lang: str,
    background: list[Any],
    lacking: list[str],
) -> str:
    import geopandas as gpd

    from maps._base import add_note, add_synthetic_banner, add_title, stable_ids
    from maps.national import make_national_map

    # synthetic neighbourhoods among real ones are not compared: listed in a note, not drawn
    uncompared = [r.name for r in rows if not r.compared]
    compared = [r for r in rows if r.compared]
    placed = [r for r in compared if territories.get(r.neighbourhood_id) is not None]
    left_out = [r.name for r in compared if territories.get(r.neighbourhood_id) is None]
    if not placed:
        raise EmptyDataError(
            msg(
                "aucun des {n_rows} quartiers que vous pouvez voir dans la comparaison "
                "nationale n'a de territoire : rien à cartographier (définissez-les avec PUT "
                "/neighbourhoods/<id>/territory).",
                n_rows=len(rows),
            )
        )
    records = []
    for r in placed:
        record: dict[str, Any] = {
            "name": r.name,
            "year": r.year,
            "n_respondents": r.n_respondents,
            # the national table has already withheld the figures of 1 to 10 respondents
            "withheld": r.n_respondents < MIN_RESPONDENTS,
        }
        record.update({f"{k}_kgco2e_mean": v for k, v in r.mean_kgco2e.items()})
        record.update({f"share_{k}": v for k, v in r.profile_mix.items()})
        record.update(r.constraints)
        record["type"] = None if r.type < 0 else r.type
        record["rank_total_kgco2e"] = r.rank_total_kgco2e
        records.append(record)
    frame = gpd.GeoDataFrame(
        pd.DataFrame.from_records(records),
        geometry=[territories[r.neighbourhood_id] for r in placed],
        crs=WORK_CRS,
    )
    feet = [c for c in frame.columns if c.endswith("_kgco2e_mean")]
    feet = (["total_kgco2e_mean"] if "total_kgco2e_mean" in feet else []) + [
        c for c in feet if c != "total_kgco2e_mean"
    ]
    shares = [c for c in frame.columns if c.startswith("share_")]
    constraints = sorted({k for r in placed for k in r.constraints})
    figures = [
        "year",
        "n_respondents",
        *feet,
        *shares,
        *constraints,
        "type",
        "rank_total_kgco2e",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = make_national_map(
            frame,
            color="total_kgco2e_mean" if "total_kgco2e_mean" in frame.columns else None,
            figures=figures,
            withheld="withheld",
            left_out=left_out,
            background=background,
            lang=lang,
        )
    title = msg(
        "Comparaison nationale des quartiers : empreinte carbone moyenne par personne "
        "(dernière publication de chaque quartier)"
    )
    add_title(m, title.render(lang))
    if any(r.synthetic for r in placed):  # only synthetic ones, compared as a demonstration
        add_synthetic_banner(m, lang=lang)
    if uncompared:
        note = msg(
            "Hors comparaison, réponses synthétiques ({n}) : {names}.",
            n=len(uncompared),
            names=", ".join(uncompared),
        )
        add_note(m, note.render(lang))
    if lacking:
        note = msg(
            "Fond de carte de la France absent : {files} introuvable dans le dossier des données "
            "partagées (QET_SHARED_DATA).",
            files=", ".join(lacking),
        )
        add_note(m, note.render(lang))
    return str(stable_ids(m).get_root().render())
