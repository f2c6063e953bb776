"""The stops of a visit: read from a file, or picked as a pilot team would pick them.

During the diagnostic, a pilot team walks the neighbourhood with residents and partners (the
"visite du quartier"): the market, the food shops, a school, the transit stop where a survey
stand will stand, the homes that have everything at hand and those that have nothing.
:func:`auto_stops` picks such places, with a reason and a priority each; :func:`read_stops` reads
stops from a GeoJSON, GeoPackage or CSV (lon, lat) file.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from qet_geo._validate import existing_file
from qet_geo.constraints.indicators import SCORE, nearest_min, reachable
from qet_geo.crs import WGS84, WORK_CRS
from qet_geo.errors import (
    EmptyDataError,
    InputFileError,
    QetGeoWarning,
    ValidationError,
)
from qet_geo.i18n import Lang, Msg, join, msg
from qet_geo.network.graph import Network, build_network
from qet_geo.network.queries import count_within
from qet_geo.network.snapping import DEFAULT_MAX_SNAP_M, snap
from qet_geo.taxonomy import CATEGORY_LABELS, ESSENTIAL_CATEGORIES
from qet_geo.visit._checks import _check_lang, _check_max_snap
from qet_geo.visit.export import _AROUND_MIN, figure_text

if TYPE_CHECKING:
    from qet_geo.layers import NeighbourhoodLayers

__all__ = ["STOP_FILE_SUFFIXES", "auto_stops", "read_stops"]

STOP_FILE_SUFFIXES: tuple[str, ...] = (".geojson", ".json", ".gpkg", ".shp", ".csv", ".tsv", ".txt")
"""Stop files :func:`read_stops` reads."""

_DUPLICATE_M = 25.0  # two automatic stops closer than this are the same place
_AUTO_RADIUS_MIN = float(_AROUND_MIN)  # "busy place": amenities and homes within this walk
_FOOD_MIN = nearest_min("food_shop")  # the homes' indicators the picks read
_HOME_N = reachable("home", _AUTO_RADIUS_MIN)  # homes counted around a place
_WGS84 = CRS.from_user_input(WGS84)

_LON = ("lon", "lng", "long", "longitude", "x")
_LAT = ("lat", "latitude", "y")
_ALIASES = {
    "nom": "name",
    "raison": "reason",
    "pourquoi": "reason",
    "priorite": "priority",
    "priorité": "priority",
    "categorie": "category",
    "catégorie": "category",
    "arret_min": "dwell_min",
    "arrêt_min": "dwell_min",
}


def read_stops(path: str | PathLike[str], *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read visit stops from a GeoJSON, GeoPackage, shapefile or CSV (lon, lat) file.

    Parameters
    ----------
    path
        A vector file of points (any CRS), or a CSV/TSV with ``lon`` and ``lat`` columns (or
        ``longitude``/``latitude``, ``x``/``y``) in WGS84 degrees.
    layer
        The layer of a multi-layer file.

    Returns
    -------
    geopandas.GeoDataFrame
        Points in EPSG:2154, indexed by the ``id`` column when there is one (else 1, 2...),
        with the optional columns ``name``, ``reason``, ``priority``, ``category`` and
        ``dwell_min`` (French headers ``nom``, ``raison``, ``priorite`` are understood).
    """
    from qet_geo.inputs.territory import read_vector

    path = Path(path)
    existing_file(path, what=msg("Fichier d'étapes"))
    suffix = path.suffix.lower()
    if suffix not in STOP_FILE_SUFFIXES:
        raise InputFileError(
            msg(
                "{path} : format de fichier d'étapes non reconnu ; donnez un fichier {suffixes}.",
                path=path,
                suffixes=", ".join(STOP_FILE_SUFFIXES),
            ),
            path=path,
        )
    if suffix in (".csv", ".tsv", ".txt"):
        gdf = _read_csv_stops(path)
    else:
        gdf = read_vector(path, layer=layer)
    gdf = gdf.rename(columns={c: _ALIASES.get(str(c).lower(), str(c).lower()) for c in gdf.columns})
    if "id" in gdf.columns:
        ids = gdf["id"]
        if ids.isna().any() or not ids.is_unique:
            raise ValidationError(
                msg(
                    "{path} : la colonne 'id' doit donner un identifiant unique par étape.",
                    path=path,
                ),
                path=path,
            )
        gdf = gdf.set_index("id")
    else:
        gdf.index = pd.RangeIndex(1, len(gdf) + 1, name="id")
    return gdf.to_crs(WORK_CRS)


def _read_csv_stops(path: Path) -> gpd.GeoDataFrame:
    try:
        frame = pd.read_csv(path, sep=None, engine="python", encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputFileError(
            msg("{path} n'a pas pu être lu comme CSV ({err}).", path=path, err=err), path=path
        ) from err
    lower = {str(c).strip().lower(): c for c in frame.columns}
    lon = next((lower[c] for c in _LON if c in lower), None)
    lat = next((lower[c] for c in _LAT if c in lower), None)
    if lon is None or lat is None:
        raise ValidationError(
            msg(
                "{path} n'a pas de colonnes lon/lat (colonnes : {columns}) : "
                "ajoutez des colonnes 'lon' et 'lat' en degrés (WGS84).",
                path=path,
                columns=", ".join(map(str, frame.columns)),
            ),
            path=path,
        )
    x = pd.to_numeric(frame[lon], errors="coerce")
    y = pd.to_numeric(frame[lat], errors="coerce")
    bad = x.isna() | y.isna() | ~x.between(-180, 180) | ~y.between(-90, 90)
    if bad.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad.to_numpy())[:5])
        raise ValidationError(
            msg("{path} : ligne(s) {rows} sans lon/lat valides en degrés.", path=path, rows=rows),
            path=path,
        )
    rest = frame.drop(columns=[lon, lat])
    return gpd.GeoDataFrame(rest, geometry=gpd.points_from_xy(x, y), crs=_WGS84)


#: A text of a pick, given the values of the chosen row (NaN for a missing one).
_Text = Callable[[Mapping[str, Any]], Msg]


@dataclass(frozen=True)
class _Pick:
    id: str
    priority: float
    ranked: Iterable[int]  # candidate rows, best first
    pool: str  # "amenity" or "home"
    name: _Text  # given the feature's name as "name"
    reason: _Text  # given the row's values
    category: str
    figures: tuple[str, ...] = ()  # the figures the reason may quote (see _describe)


def auto_stops(
    layers: NeighbourhoodLayers,
    *,
    n: int = 8,
    access: gpd.GeoDataFrame | None = None,
    network: Network | None = None,
    lang: Lang = "fr",
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> gpd.GeoDataFrame:
    """Pick the stops a pilot team would want to see, each with a reason and a priority.

    In order of priority (higher is kept longer when a budget drops stops): the market (5, a
    place to survey and meet people), the home farthest from food shops (5), the busiest
    transit stop (4: most departures per hour with a GTFS feed, otherwise most amenities
    within 5 minutes, a place for a survey stand), the best-served home (4), one food shop,
    school, park and second-hand or repair place (3, each the one with most homes within
    5 minutes), the least-served home (3), a public service, health place, railway station and
    sport or culture place (2), the home farthest from transit (2), then a local shop, the home
    farthest from a park, a cycle park and the home farthest from second hand (1). The first
    ``n`` available are kept; two picks less than 25 m apart count once (the next candidate of
    the later criterion is taken instead).

    Parameters
    ----------
    layers
        The neighbourhood (:func:`qet_geo.layers.build_layers`); places are taken inside the
        territory, on the main part of the walking network.
    n
        Number of stops wanted (at least 2).
    access
        The per-home indicators (:func:`qet_geo.constraints.access.neighbourhood_access`, walk);
        computed when None.
    network
        The walking network of ``layers`` (built when None).
    lang
        "fr" or "en": language of names and reasons.
    max_snap_m
        Farthest a place may be from a street (m).

    Returns
    -------
    geopandas.GeoDataFrame
        Points in EPSG:2154 indexed by a stop id ("market", "home_far_food"...), with columns
        ``name``, ``reason``, ``priority``, ``category``, ``source`` (the OSM feature or
        home id) and ``figures`` (the figures the reason quotes, space-separated: names of
        :data:`qet_geo.constraints.indicators.INDICATORS` or keys of
        :data:`qet_geo.visit.export.VISIT_FIGURES`; the roadbook explains them). Fewer than
        ``n`` rows, with a :class:`QetGeoWarning`, when the neighbourhood lacks some places.

    Notes
    -----
    A reason never quotes a count of zero: a place with no home within 5 minutes is picked
    for what it is, without the figure. The amenities counted around a place are the *other*
    ones (the place itself is not counted).
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise ValidationError(
            msg("Le nombre d'étapes doit être un entier supérieur ou égal à 2, et non {n!r}.", n=n)
        )
    _check_lang(lang)
    max_snap_m = _check_max_snap(max_snap_m)
    if "walk" not in layers.graphs or "amenities" not in layers.layers:
        raise ValidationError(
            msg(
                "Les couches n'ont pas le graphe piéton ou les équipements : construisez-les "
                "avec build_layers."
            )
        )
    net = network if network is not None else build_network(*layers.graphs["walk"], mode="walk")
    if access is None:
        from qet_geo.constraints.access import neighbourhood_access

        access = neighbourhood_access(layers, mode="walk")
    return _auto_stops(layers, int(n), access, net, lang, max_snap_m)


def _auto_stops(
    layers: NeighbourhoodLayers,
    n: int,
    access: gpd.GeoDataFrame,
    net: Network,
    lang: str,
    max_snap_m: float,
) -> gpd.GeoDataFrame:
    terr = layers.territory.geometry
    crs = net.crs
    amen = layers.layers["amenities"].to_crs(crs)
    amen = amen[shapely.covers(terr, amen.geometry.to_numpy())]
    stops_layer = layers.layers.get("transit_stops")
    places = amen[["category", "geometry"]].assign(
        name=amen["name"] if "name" in amen.columns else None
    )
    if stops_layer is not None and "departures_per_hour" in stops_layer.columns:
        st = stops_layer.to_crs(crs)
        st = st[shapely.covers(terr, st.geometry.to_numpy())]
        name_col = "stop_name" if "stop_name" in st.columns else "name"
        gtfs = gpd.GeoDataFrame(
            {
                "category": "transit_stop",
                "name": st[name_col] if name_col in st.columns else None,
                "departures_per_hour": st["departures_per_hour"],
            },
            geometry=st.geometry.to_numpy(),
            crs=crs,
            index="gtfs:" + st.index.astype(str),
        )
        places = pd.concat([places[places["category"] != "transit_stop"], gtfs])
    places = gpd.GeoDataFrame(places, geometry="geometry", crs=crs)
    places.geometry = places.geometry.representative_point()
    places = places[_on_main(net, places.geometry, max_snap_m)]

    homes = access[~access["off_network"].astype(bool)] if "off_network" in access else access
    # every home on the streets counts, with or without a food shop within reach: a village
    # without one would otherwise have no home at all, and its places "0 homes within 5 min"
    homes = homes[_on_main(net, homes.geometry, max_snap_m)]

    if not places.empty:
        counted = pd.concat(
            [
                places[["category", "geometry"]],
                gpd.GeoDataFrame(
                    {"category": np.full(len(homes), "home", dtype=object)},
                    geometry=homes.geometry.to_numpy(),
                    crs=crs,
                ),
            ],
            ignore_index=True,
        )
        counts = count_within(net, places, counted, thresholds_min=[_AUTO_RADIUS_MIN])
        suffix = _HOME_N.removeprefix("home")
        n5 = [c for c in counts.columns if c.endswith(suffix)]
        homes_n5 = counts[_HOME_N] if _HOME_N in counts else pd.Series(0, places.index)
        # the place itself is at 0 min: its neighbours are the others
        amenities = counts[[c for c in n5 if c != _HOME_N]].sum(axis=1).to_numpy()
        places = places.assign(
            homes_n5=homes_n5.to_numpy(),
            amenities_n5=np.maximum(amenities - 1, 0),
        )
    picks = list(_criteria(places, homes))
    chosen: list[dict[str, Any]] = []
    taken: list[Any] = []
    for pick in sorted(picks, key=lambda p: -p.priority):
        if len(chosen) >= n:
            break
        table = places if pick.pool == "amenity" else homes
        for row in pick.ranked:
            geom = table.geometry.iloc[row]
            if any(geom.distance(g) < _DUPLICATE_M for g in taken):
                continue
            chosen.append(_describe(pick, table, row, lang))
            taken.append(geom)
            break
    if len(chosen) < 2:
        raise EmptyDataError(
            msg(
                "Moins de 2 lieux à visiter trouvés dans le territoire (aucun équipement ni "
                "logement sur le réseau piéton) : vérifiez que l'extrait couvre le quartier."
            )
        )
    if len(chosen) < n:
        warnings.warn(
            QetGeoWarning(
                msg(
                    "Seulement {found} étapes trouvées (sur {n} demandées) : le quartier n'a "
                    "pas tous les types de lieux.",
                    found=len(chosen),
                    n=n,
                )
            ),
            stacklevel=3,
        )
    out = gpd.GeoDataFrame(
        [{k: v for k, v in c.items() if k != "id"} for c in chosen],
        index=pd.Index([c["id"] for c in chosen], name="id"),
        geometry="geometry",
        crs=crs,
    )
    return out


def _on_main(net: Network, geoms: gpd.GeoSeries, max_snap_m: float) -> npt.NDArray[np.bool_]:
    if geoms.empty:
        return np.zeros(0, dtype=bool)
    s = snap(net, geoms, max_snap_m=max_snap_m)
    return (~s["off_network"].to_numpy(bool)) & (s["component"].to_numpy(float) == 0)


def _rank(values: pd.Series, *, descending: bool, tie: pd.Series | None = None) -> list[int]:
    """Row positions by value (NaN last), ties broken by ``tie`` ascending then position."""
    frame = pd.DataFrame(
        {
            "v": values.to_numpy(float) * (-1 if descending else 1),
            "t": tie.to_numpy(float) if tie is not None else 0.0,
            "p": np.arange(len(values)),
        }
    )
    frame = frame[np.isfinite(frame["v"])]
    return [int(x) for x in frame.sort_values(["v", "t", "p"], kind="stable")["p"]]


def _criteria(places: gpd.GeoDataFrame, homes: gpd.GeoDataFrame) -> Iterator[_Pick]:
    """The criteria of :func:`auto_stops`, in order, with the candidates of each ranked.

    A reason is the sentence of the pick; the figures it quotes (``figures``) are added by
    :func:`_describe`, each with its label, and left out when they are zero or unknown.
    """
    named = places["name"].notna().astype(float) if "name" in places else None

    def cat(category: str, key: str) -> pd.Series:
        mask = (places["category"] == category).to_numpy()
        values = places[key].where(mask) if key in places else pd.Series(np.nan, places.index)
        return values

    def ranked_places(category: str, key: str) -> list[int]:
        tie = -named if named is not None else None
        return _rank(cat(category, key), descending=True, tie=tie)

    def busy(v: Mapping[str, Any]) -> bool:
        return bool(v.get("amenities_n5", 0) > 0)

    if not places.empty:
        yield _Pick(
            "market",
            5,
            ranked_places("market", "amenities_n5"),
            "amenity",
            lambda v: msg("Marché{name}", name=v["name"]),
            lambda _: msg("Marché : lieu d'enquête et de rencontre"),
            "market",
        )
    essentials = [c for c in ESSENTIAL_CATEGORIES if nearest_min(c) in homes.columns]
    mean_min = (
        homes[[nearest_min(c) for c in essentials]].mean(axis=1)
        if essentials
        else pd.Series(0.0, homes.index)
    )
    if _FOOD_MIN in homes:
        yield _Pick(
            "home_far_food",
            5,
            _rank(homes[_FOOD_MIN], descending=True),
            "home",
            lambda _: msg("Logement éloigné des commerces"),
            lambda _: msg("Logement le plus éloigné des commerces alimentaires"),
            "home",
            figures=(_FOOD_MIN,),
        )
    if not places.empty:
        transit = cat("transit_stop", "amenities_n5")
        has_departures = "departures_per_hour" in places and bool(
            cat("transit_stop", "departures_per_hour").notna().any()
        )
        if has_departures:
            yield _Pick(
                "transit_busy",
                4,
                ranked_places("transit_stop", "departures_per_hour"),
                "amenity",
                lambda v: msg("Arrêt{name}", name=v["name"]),
                lambda _: msg("Arrêt le plus desservi : lieu de passage pour un stand d'enquête"),
                "transit_stop",
                figures=("departures_per_hour",),
            )
        elif transit.notna().any():
            yield _Pick(
                "transit_busy",
                4,
                ranked_places("transit_stop", "amenities_n5"),
                "amenity",
                lambda v: msg("Arrêt{name}", name=v["name"]),
                lambda v: (
                    msg("Arrêt le plus animé : lieu de passage pour un stand d'enquête")
                    if busy(v)
                    else msg(
                        "Arrêt de transport en commun : lieu de passage pour un stand d'enquête"
                    )
                ),
                "transit_stop",
                figures=("amenities_n5",),
            )
    if SCORE in homes:
        yield _Pick(
            "home_best",
            4,
            _rank(homes[SCORE], descending=True, tie=mean_min),
            "home",
            lambda _: msg("Logement le mieux desservi"),
            lambda _: msg("Logement le mieux desservi"),
            "home",
            figures=(SCORE, "mean_min"),
        )
    with_homes = ("homes_n5",)
    category_reasons: dict[str, tuple[int, _Text, tuple[str, ...]]] = {
        "food_shop": (
            3,
            lambda _: msg("Commerce alimentaire : là où le quartier fait ses courses"),
            with_homes,
        ),
        "school": (
            3,
            lambda _: msg("École : trajets domicile-école, parents à rencontrer"),
            with_homes,
        ),
        "park": (3, lambda _: msg("Espace vert : lieu de vie et de rencontre"), with_homes),
        "second_hand_repair": (
            3,
            lambda _: msg("Seconde main et réparation : alternative aux achats neufs"),
            (),
        ),
    }
    later: dict[str, tuple[int, _Text, tuple[str, ...]]] = {
        "public_service": (
            2,
            lambda _: msg("Service public : lieu de passage, relais pour l'enquête"),
            (),
        ),
        "health": (2, lambda _: msg("Santé : service du quotidien"), with_homes),
        "rail_station": (2, lambda _: msg("Gare : l'alternative bas carbone à l'avion"), ()),
        "sport_culture": (
            2,
            lambda _: msg("Sport et culture : lieu de rencontre des habitants"),
            (),
        ),
    }
    last: dict[str, tuple[int, _Text, tuple[str, ...]]] = {
        "local_shop": (
            1,
            lambda v: (
                msg("Commerce de proximité le plus animé")
                if busy(v)
                else msg("Commerce de proximité : les achats courants près de chez soi")
            ),
            ("amenities_n5",),
        ),
        "cycle_parking": (
            1,
            lambda _: msg("Stationnement vélo : la pratique du vélo au quotidien"),
            (),
        ),
    }

    def category_picks(table: dict[str, tuple[int, _Text, tuple[str, ...]]]) -> Iterator[_Pick]:
        if places.empty:
            return
        for category, (priority, reason, figures) in table.items():
            key = "amenities_n5" if category == "local_shop" else "homes_n5"
            ranked = ranked_places(category, key)
            if ranked:
                name = functools.partial(_category_name, CATEGORY_LABELS[category])
                yield _Pick(
                    category, priority, ranked, "amenity", name, reason, category, figures=figures
                )

    def far_home(
        category: str, key: str, priority: int, name: _Text, reason: _Text
    ) -> Iterator[_Pick]:
        column = nearest_min(category)
        if column in homes:
            ranked = _rank(homes[column], descending=True)
            yield _Pick(key, priority, ranked, "home", name, reason, "home", figures=(column,))

    yield from category_picks(category_reasons)
    if SCORE in homes:
        yield _Pick(
            "home_least_served",
            3,
            _rank(homes[SCORE], descending=False, tie=-mean_min),
            "home",
            lambda _: msg("Logement le moins bien desservi"),
            lambda _: msg("Logement le moins bien desservi"),
            "home",
            figures=(SCORE, "mean_min"),
        )
    yield from category_picks(later)
    yield from far_home(
        "transit_stop",
        "home_far_transit",
        2,
        lambda _: msg("Logement éloigné des transports"),
        lambda _: msg("Logement le plus éloigné d'un arrêt de transport en commun"),
    )
    yield from category_picks({"local_shop": last["local_shop"]})
    yield from far_home(
        "park",
        "home_far_park",
        1,
        lambda _: msg("Logement éloigné des espaces verts"),
        lambda _: msg("Logement le plus éloigné d'un espace vert"),
    )
    yield from category_picks({"cycle_parking": last["cycle_parking"]})
    yield from far_home(
        "second_hand_repair",
        "home_far_second_hand",
        1,
        lambda _: msg("Logement éloigné de la seconde main"),
        lambda _: msg("Logement le plus éloigné de la seconde main et de la réparation"),
    )


def _describe(pick: _Pick, table: gpd.GeoDataFrame, row: int, lang: str) -> dict[str, Any]:
    record = table.iloc[row]
    values: dict[str, Any] = {
        k: float(v)
        for k, v in record.items()
        if isinstance(k, str) and isinstance(v, int | float | np.number) and not isinstance(v, bool)
    }
    essentials = [nearest_min(c) for c in ESSENTIAL_CATEGORIES if nearest_min(c) in values]
    known = [float(values[c]) for c in essentials if math.isfinite(float(values[c]))]
    values["mean_min"] = float(np.mean(known)) if known else math.nan

    class _Safe(dict[str, Any]):
        def __missing__(self, key: str) -> float:
            return math.nan

    safe = _Safe(values)
    # a figure is quoted only when it says something: never a zero count, never an unknown
    shown = [
        (key, text) for key in pick.figures if (text := figure_text(key, safe[key])) is not None
    ]
    reason = pick.reason(safe)
    if shown:
        reason = msg(
            "{reason} ({figures})", reason=reason, figures=join([t for _, t in shown], ", ")
        )
    name_value = record.get("name") if pick.pool == "amenity" else None
    label = f" « {name_value} »" if isinstance(name_value, str) and name_value.strip() else ""
    return {
        "id": pick.id,
        "name": pick.name({"name": label}).render(lang),
        "reason": reason.render(lang),
        "priority": float(pick.priority),
        "category": pick.category,
        "source": str(table.index[row]),
        "figures": " ".join(key for key, _ in shown),
        "geometry": record.geometry,
    }


def _category_name(label: Msg, values: Mapping[str, Any]) -> Msg:
    return msg("{label}{name}", label=label, name=values["name"])
