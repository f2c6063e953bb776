"""Locate respondents' homes, offline: coordinates, 200 m cells, IRIS codes or addresses.

A survey file may say where a respondent lives in four ways, tried in this order for each row:

1. **coordinates**: ``lon``/``lat`` (WGS84) or ``x``/``y`` in a projected CRS (``crs=``);
2. a **200 m cell id** of the INSEE grid (``CRS3035RES200mN…E…``);
3. an **address**, one line (``"12 bis r. du Port 56100 Lorient"``) or split in ``housenumber``,
   ``street``, ``postcode``, ``city``, geocoded against the house-number addresses of the
   neighbourhood's OpenStreetMap extract (``read_osm(path).addresses``): no web service, nothing
   leaves the machine;
4. an **IRIS code** (9 characters).

Address matching
----------------
Street names are normalised on both sides by :func:`normalise_street`: accents, case and
apostrophes folded, punctuation removed, abbreviations expanded (``r.`` → rue, ``av.`` → avenue,
``bd`` → boulevard, ``pl.`` → place, ``st`` → saint, ``gal`` → général...; see
:data:`ABBREVIATIONS`), articles dropped (de, du, la, l'...). Each street is then scored against
every street of the extract with rapidfuzz (the best of the plain similarity ratio and 95 % of the
token-set ratio, which forgives a missing first name: "bd du Gal Leclerc" → "Boulevard du Général
Philippe Leclerc"); streets scoring at least ``min_score`` (85 by default) and within 2 points of
the best are candidates. The house number (``8 bis`` = ``8bis`` = ``8b``) must then exist on a
candidate street:

- ``housenumber``: the number exists (or, for ``8 bis``, the plain ``8``): the home is that
  address point, and its building is the OSM building carrying the address, else the nearest
  residential building within ``building_distance_m`` (25 m by default: an address node sits on
  the façade or in the garden of its building). Only this match counts as a home.
- ``street``: the street exists but not the number (or no number was given): reported, not
  located; the respondent is left out of every map.
- ``none``: no street is close enough, or two different streets both have the number.

The result holds precise home points: personal data. Pass it to
:func:`qet_geo.privacy.coarsen_locations` before storing or aggregating anything.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from qet_geo import grid
from qet_geo._validate import data_frame, geo_frame, require_crs
from qet_geo.crs import WGS84, WORK_CRS
from qet_geo.errors import CRSError, QetGeoWarning, ValidationError
from qet_geo.i18n import Msg, join, msg
from qet_geo.surveys.schema import LOCATION_COLUMNS

__all__ = [
    "ABBREVIATIONS",
    "DEFAULT_BUILDING_DISTANCE_M",
    "DEFAULT_MIN_SCORE",
    "MATCH_TYPES",
    "geocode_addresses",
    "locate_homes",
    "normalise_street",
    "parse_address",
]

logger = logging.getLogger(__name__)


#: Kinds of address match, best first.
MATCH_TYPES: tuple[str, ...] = ("housenumber", "street", "none")

#: Lowest street score (0-100) that counts as a match.
DEFAULT_MIN_SCORE = 85.0

#: Farthest a residential building may be from a home point to be taken as its building, in metres.
DEFAULT_BUILDING_DISTANCE_M = 25.0

#: Abbreviations of French street types and titles, expanded before matching (after folding).
ABBREVIATIONS: Mapping[str, str] = {
    "r": "rue",
    "av": "avenue",
    "ave": "avenue",
    "bd": "boulevard",
    "bld": "boulevard",
    "blvd": "boulevard",
    "boul": "boulevard",
    "bvd": "boulevard",
    "pl": "place",
    "imp": "impasse",
    "all": "allee",
    "ch": "chemin",
    "chem": "chemin",
    "rte": "route",
    "sq": "square",
    "crs": "cours",
    "qu": "quai",
    "fg": "faubourg",
    "fbg": "faubourg",
    "pas": "passage",
    "res": "residence",
    "rpt": "rond point",
    "rdpt": "rond point",
    "esp": "esplanade",
    "sen": "sentier",
    "prom": "promenade",
    "st": "saint",
    "ste": "sainte",
    "gal": "general",
    "gen": "general",
    "gl": "general",
    "mal": "marechal",
    "mar": "marechal",
    "pdt": "president",
    "pres": "president",
    "dr": "docteur",
    "pr": "professeur",
    "prof": "professeur",
    "cdt": "commandant",
    "cmdt": "commandant",
    "cne": "capitaine",
    "lt": "lieutenant",
    "col": "colonel",
    "mgr": "monseigneur",
    "nd": "notre dame",
}

_ARTICLES = frozenset({"de", "du", "des", "la", "le", "les", "l", "d", "a", "au", "aux", "et"})
_SUFFIXES = {"b": "bis", "t": "ter", "q": "quater", "bis": "bis", "ter": "ter", "quater": "quater"}
_NON_WORD = re.compile(r"[^0-9a-z]+")
_NUMBER_FIRST = re.compile(
    r"^\s*(\d+)\s*(bis|ter|quater|[a-qs-z](?![.]))?(?![0-9a-z])[\s,]*(.*)$", re.IGNORECASE
)
_NUMBER_LAST = re.compile(r"^(.*?)[\s,]+(\d+)\s*(bis|ter|quater)?\s*$", re.IGNORECASE)
_POSTCODE = re.compile(r"(?<!\d)(\d{5})(?!\d)")
_TIE_POINTS = 2.0


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.replace("’", "'").replace("‘", "'").replace("`", "'").lower()


def normalise_street(text: str) -> str:
    """Fold a street name for matching: accents, case, punctuation, abbreviations, articles.

    Parameters
    ----------
    text
        A street name such as ``"Bd du Gal Leclerc"`` or ``"Rue de l'Assemblée Nationale"``.

    Returns
    -------
    str
        Words separated by single spaces, e.g. ``"boulevard general leclerc"`` and
        ``"rue assemblee nationale"``; ``""`` for a missing value.
    """
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return ""
    words = _NON_WORD.sub(" ", _fold(str(text))).split()
    out: list[str] = []
    for word in words:
        word = ABBREVIATIONS.get(word, word)
        out.extend(w for w in word.split() if w not in _ARTICLES)
    return " ".join(out)


def _normalise_number(text: Any) -> str:
    if text is None or text is pd.NA or (isinstance(text, float) and np.isnan(text)):
        return ""
    folded = _NON_WORD.sub("", _fold(str(text)))
    found = re.fullmatch(r"(\d+)([a-z]*)", folded)
    if not found:
        return folded
    suffix = found.group(2)
    return found.group(1) + _SUFFIXES.get(suffix, suffix)


def parse_address(text: str, *, cities: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Split a one-line French address into house number, street, postcode and city.

    Parameters
    ----------
    text
        An address such as ``"12 bis, r. du Port 56100 Lorient"``.
    cities
        City names to strip from the end when there is no postcode (``"... Port Lorient"``).

    Returns
    -------
    dict
        ``housenumber`` (``"12bis"``), ``street`` (``"r. du Port"``), ``postcode``, ``city``;
        ``None`` for the parts not found.
    """
    out: dict[str, str | None] = {
        "housenumber": None,
        "street": None,
        "postcode": None,
        "city": None,
    }
    if text is None or text is pd.NA or not str(text).strip():
        return out
    rest = " ".join(str(text).split())
    codes = list(_POSTCODE.finditer(rest))
    if codes:
        last = codes[-1]
        out["postcode"] = last.group(1)
        city = rest[last.end() :].strip(" ,;-")
        out["city"] = city or None
        rest = rest[: last.start()].strip(" ,;-")
    elif cities:
        rest, out["city"] = _split_city(rest, cities)
    first = _NUMBER_FIRST.match(rest)
    if first and first.group(3):
        out["housenumber"] = _normalise_number(first.group(1) + (first.group(2) or ""))
        rest = first.group(3)
    else:
        last_number = _NUMBER_LAST.match(rest)
        if last_number:
            out["housenumber"] = _normalise_number(
                last_number.group(2) + (last_number.group(3) or "")
            )
            rest = last_number.group(1)
    out["street"] = rest.strip(" ,;-") or None
    return out


# --------------------------------------------------------------------------------------------------
# geocoding addresses


def geocode_addresses(
    addresses: pd.Series | pd.DataFrame,
    reference: gpd.GeoDataFrame,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    min_score: float = DEFAULT_MIN_SCORE,
    building_distance_m: float = DEFAULT_BUILDING_DISTANCE_M,
) -> gpd.GeoDataFrame:
    """Geocode addresses offline against the house-number addresses of an OSM extract.

    Parameters
    ----------
    addresses
        One-line addresses (a Series of text), or a DataFrame with an ``address`` column or
        ``street`` and ``housenumber`` columns (``postcode``, ``city`` optional).
    reference
        House-number addresses with ``housenumber``, ``street``, optionally ``postcode`` and
        ``building_key``, as points: ``read_osm(path).addresses``.
    buildings
        Buildings with a ``residential`` column (``read_osm(path).buildings``), to give each
        home the nearest residential building when its address is not on a building.
    min_score
        Lowest street similarity (0-100) that counts as a match.
    building_distance_m
        Farthest a residential building may be from the address point, in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        Aligned to ``addresses`` (EPSG:2154): ``match`` (housenumber, street, none), ``score``
        (street similarity, 0-100; NaN for none), ``street_matched`` and
        ``housenumber_matched`` (the extract's spelling), ``building_key``, ``is_home`` (True
        for house-number matches only), ``reason_en``/``reason_fr`` (why a row is not a home)
        and the home point as geometry (missing unless ``match == "housenumber"``).

    Raises
    ------
    ValidationError
        ``addresses`` has no address column, ``reference`` lacks ``street`` or ``housenumber``
        or is empty, or an option is out of range.
    CRSError
        ``reference`` or ``buildings`` has no CRS.
    """
    parts = _address_parts(addresses)
    ref = _check_reference(reference)
    homes = _check_buildings(buildings)
    _check_distances(min_score=min_score, building_distance_m=building_distance_m)
    found = _geocode(
        parts,
        ref,
        homes=homes,
        min_score=float(min_score),
        building_distance_m=float(building_distance_m),
    )
    return _render_reasons(found)


def _render_reasons(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Replace the private ``_reason`` column (Msg or None) by ``reason_en`` and ``reason_fr``."""
    at = frame.columns.get_loc("_reason")
    reasons = frame.pop("_reason")
    for k, lang in enumerate(("en", "fr")):
        texts = [m.render(lang) if isinstance(m, Msg) else "" for m in reasons]
        frame.insert(at + k, f"reason_{lang}", pd.array(texts, dtype="string"))
    return frame


def _check_distances(*, min_score: float, building_distance_m: float) -> None:
    if isinstance(min_score, bool) or not isinstance(min_score, int | float):
        min_score = float("nan")
    if not 0 < min_score <= 100:
        raise ValidationError(
            msg(
                "min_score doit être une similarité entre 0 et 100, pas {min_score!r}.",
                min_score=min_score,
            )
        )
    if (
        isinstance(building_distance_m, bool)
        or not isinstance(building_distance_m, int | float)
        or not building_distance_m >= 0
    ):
        raise ValidationError(
            msg(
                "building_distance_m doit être une distance en mètres (>= 0), pas "
                "{building_distance_m!r}.",
                building_distance_m=building_distance_m,
            )
        )


def _address_parts(addresses: pd.Series | pd.DataFrame) -> pd.DataFrame:
    """Turn the input into housenumber / street / postcode / city text columns."""
    if isinstance(addresses, pd.Series):
        frame = pd.DataFrame({"address": addresses})
    elif isinstance(addresses, pd.DataFrame):
        frame = addresses
    else:
        raise ValidationError(
            msg(
                "addresses doit être une Series d'adresses ou un DataFrame, pas {type_name}.",
                type_name=type(addresses).__name__,
            )
        )
    if "address" not in frame.columns and "street" not in frame.columns:
        raise ValidationError(
            msg(
                "addresses n'a ni colonne 'address' ni colonne 'street' (colonnes : "
                "{columns}) ; nommez la colonne d'adresse complète 'address', ou "
                "donnez 'housenumber' et 'street'.",
                columns=list(frame.columns),
            )
        )
    out = pd.DataFrame(index=frame.index)
    for col in ("housenumber", "street", "postcode", "city"):
        out[col] = frame[col].astype("string") if col in frame.columns else pd.NA
        out[col] = out[col].astype("string")
    if "address" in frame.columns:
        text = frame["address"].astype("string")
        use = out["street"].isna() & text.notna()
        parsed = {v: parse_address(str(v)) for v in text[use].unique()}
        for col in ("housenumber", "street", "postcode", "city"):
            values = text[use].map(lambda v, c=col: parsed[v][c])
            out.loc[use, col] = values.astype("string")
    no_number = out["housenumber"].isna() & out["street"].notna()
    if no_number.any():
        split = out.loc[no_number, "street"].map(lambda s: parse_address(str(s)))
        out.loc[no_number, "housenumber"] = split.map(lambda p: p["housenumber"]).astype("string")
        out.loc[no_number, "street"] = split.map(lambda p: p["street"]).astype("string")
    return out


def _check_reference(reference: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geo_frame(reference, what="reference", hint=msg("passez read_osm(chemin).addresses"))
    missing = [c for c in ("housenumber", "street") if c not in reference.columns]
    if missing:
        raise ValidationError(
            msg(
                "reference n'a pas les colonnes {missing} ; passez read_osm(chemin).addresses.",
                missing=missing,
            )
        )
    if reference.empty:
        raise ValidationError(
            msg(
                "reference n'a aucune adresse : l'extrait OSM n'a pas de addr:housenumber ; "
                "localisez par coordonnées ou carreaux, ou utilisez un extrait avec adresses."
            )
        )
    require_crs(reference, what="reference")
    return reference.to_crs(WORK_CRS)


def _check_buildings(buildings: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    if buildings is None:
        return None
    hint = msg("passez read_osm(chemin).buildings")
    require_crs(geo_frame(buildings, what="buildings", hint=hint), what="buildings")
    homes = buildings
    if "residential" in buildings.columns:
        homes = buildings[buildings["residential"].fillna(False).astype(bool)]
    return homes[[homes.geometry.name]].to_crs(WORK_CRS)


@dataclass(frozen=True)
class _Reference:
    streets: list[str]
    display: list[str]
    points: dict[tuple[int, str], int]
    frame: gpd.GeoDataFrame
    cities: tuple[str, ...]


def _prepare_reference(ref: gpd.GeoDataFrame) -> _Reference:
    frame = ref.copy()
    frame["_street"] = frame["street"].map(normalise_street)
    frame["_number"] = frame["housenumber"].map(_normalise_number)
    if "building_key" not in frame.columns:
        frame["building_key"] = None
    frame = frame[(frame["_street"] != "") & (frame["_number"] != "")]
    # one point per (street, number): the one on a building first (OSM often has both a node and
    # a building carrying the same address a few metres apart)
    frame = frame.assign(_on_building=frame["building_key"].notna())
    frame = frame.sort_values("_on_building", ascending=False, kind="stable")
    streets = sorted(frame["_street"].unique())
    position = {s: i for i, s in enumerate(streets)}
    display = [str(frame.loc[frame["_street"] == s, "street"].mode().iloc[0]) for s in streets]
    points: dict[tuple[int, str], int] = {}
    for row, (street, number) in enumerate(zip(frame["_street"], frame["_number"], strict=True)):
        points.setdefault((position[street], number), row)
    cities: tuple[str, ...] = ()
    if "city" in frame.columns:
        cities = tuple(sorted({str(c) for c in frame["city"].dropna().unique() if str(c)}))
    return _Reference(streets, display, points, frame, cities)


def _geocode(
    parts: pd.DataFrame,
    ref: gpd.GeoDataFrame,
    *,
    homes: gpd.GeoDataFrame | None,
    min_score: float,
    building_distance_m: float,
) -> gpd.GeoDataFrame:
    from rapidfuzz import fuzz
    from rapidfuzz.process import cdist

    reference = _prepare_reference(ref)
    n = len(parts)
    streets_in = parts["street"].map(
        lambda s: (
            "" if s is None or s is pd.NA else normalise_street(_strip_city(str(s), reference))
        )
    )
    numbers_in = parts["housenumber"].map(_normalise_number)
    unique_streets = sorted({s for s in streets_in if s})
    scores = np.zeros((len(unique_streets), len(reference.streets)), dtype=float)
    if unique_streets and reference.streets:
        plain = cdist(unique_streets, reference.streets, scorer=fuzz.ratio, workers=1)
        tokens = cdist(unique_streets, reference.streets, scorer=fuzz.token_set_ratio, workers=1)
        scores = np.maximum(np.asarray(plain, dtype=float), 0.95 * np.asarray(tokens, dtype=float))
    row_of = {s: i for i, s in enumerate(unique_streets)}
    match = np.full(n, "none", dtype=object)
    score = np.full(n, np.nan)
    street_matched = np.full(n, None, dtype=object)
    number_matched = np.full(n, None, dtype=object)
    ref_row = np.full(n, -1, dtype=int)
    reason = np.full(n, None, dtype=object)
    postcodes = parts["postcode"].to_numpy(dtype=object)
    ref_postcodes = (
        reference.frame["postcode"].to_numpy(dtype=object)
        if "postcode" in reference.frame.columns
        else np.full(len(reference.frame), None, dtype=object)
    )
    for i, (street, number) in enumerate(zip(streets_in, numbers_in, strict=True)):
        if not street:
            reason[i] = msg("pas de rue indiquée")
            continue
        row = scores[row_of[street]]
        best = float(row.max()) if row.size else 0.0
        if best < min_score:
            reason[i] = msg(
                "aucune rue de l'extrait n'est assez proche (meilleur score {best:.0f})", best=best
            )
            score[i] = best
            continue
        candidates = [int(j) for j in np.flatnonzero(row >= max(min_score, best - _TIE_POINTS))]
        candidates.sort(key=lambda j: -row[j])
        found = _find_number(
            candidates, number, reference, postcode=postcodes[i], ref_postcodes=ref_postcodes
        )
        if not isinstance(found, tuple):
            top = candidates[0]
            match[i] = "street"
            score[i] = float(row[top])
            street_matched[i] = reference.display[top]
            if found == "ambiguous":
                match[i] = "none"
                reason[i] = msg("le numéro existe dans deux rues proches différentes : ambigu")
            elif number:
                reason[i] = msg("numéro introuvable dans cette rue de l'extrait")
            else:
                reason[i] = msg("pas de numéro indiqué")
            continue
        j, point_row = found
        match[i] = "housenumber"
        score[i] = float(row[j])
        street_matched[i] = reference.display[j]
        number_matched[i] = str(reference.frame["housenumber"].iloc[point_row])
        ref_row[i] = point_row
    located = ref_row >= 0
    geometry = np.full(n, None, dtype=object)
    geometry[located] = reference.frame.geometry.to_numpy()[ref_row[located]]
    building = np.full(n, None, dtype=object)
    building[located] = reference.frame["building_key"].to_numpy(dtype=object)[ref_row[located]]
    result = gpd.GeoDataFrame(
        {
            "match": pd.array(match, dtype="string"),
            "score": score,
            "street_matched": pd.array(street_matched, dtype="string"),
            "housenumber_matched": pd.array(number_matched, dtype="string"),
            "building_key": pd.array(building, dtype="string"),
            "is_home": located,
            "_reason": reason,
        },
        geometry=gpd.GeoSeries(geometry, crs=WORK_CRS),
        crs=WORK_CRS,
    )
    result.index = parts.index
    if homes is not None:
        result["building_key"] = _nearest_buildings(
            result.geometry, result["building_key"], homes, building_distance_m
        )
    logger.info(
        "geocoded %d addresses: %d house numbers, %d streets only, %d none",
        n,
        int((match == "housenumber").sum()),
        int((match == "street").sum()),
        int((match == "none").sum()),
    )
    return result


def _strip_city(street: str, reference: _Reference) -> str:
    if not reference.cities:
        return street
    return _split_city(street, reference.cities)[0] or street


def _split_city(text: str, cities: tuple[str, ...]) -> tuple[str, str | None]:
    """Cut a known city name off the end of an address with no postcode."""
    folded = _fold(text)
    if len(folded) != len(text):  # decomposed accents: positions would not line up
        return text, None
    for city in sorted(cities, key=len, reverse=True):
        name = _fold(city)
        if name and re.search(rf"[\s,]{re.escape(name)}\s*$", folded):
            return text[: len(text) - len(name)].strip(" ,;-"), text[
                len(text) - len(name) :
            ].strip()
    return text, None


def _find_number(
    candidates: list[int],
    number: str,
    reference: _Reference,
    *,
    postcode: Any,
    ref_postcodes: np.ndarray,
) -> tuple[int, int] | str | None:
    """Find the number on the candidate streets: (street, point row), "ambiguous" or None."""
    if not number:
        return None
    tries = [number]
    plain = re.match(r"\d+", number)
    if plain and plain.group(0) != number:
        tries.append(plain.group(0))
    for attempt in tries:
        hits: list[tuple[int, int]] = []
        for j in candidates:
            row = reference.points.get((j, attempt))
            if row is None:
                continue
            ref_code = ref_postcodes[row]
            if (
                isinstance(postcode, str)
                and isinstance(ref_code, str)
                and postcode.strip() != ref_code.strip()
            ):
                continue
            hits.append((j, row))
        if hits:
            best_street = hits[0][0]
            names = {reference.streets[j] for j, _ in hits}
            if len(names) > 1 and not _same_street(names, best_street, reference):
                return "ambiguous"
            return hits[0]
    return None


def _same_street(names: set[str], best: int, reference: _Reference) -> bool:
    """Different spellings of one street (OSM has 'Rue Poissonière' and 'rue Poissonnière')."""
    from rapidfuzz import fuzz

    anchor = reference.streets[best]
    return all(fuzz.ratio(anchor, other) >= 90 for other in names)


def _nearest_buildings(
    points: gpd.GeoSeries,
    keys: pd.Series,
    homes: gpd.GeoDataFrame,
    max_distance_m: float,
) -> pd.Series:
    """Fill missing building keys with the nearest residential building within the distance."""
    out = keys.astype("string").copy()
    need = (out.isna() & points.notna() & ~points.is_empty).to_numpy()
    if not need.any() or homes.empty:
        return out
    query = gpd.GeoDataFrame(geometry=points[need], crs=points.crs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        joined = gpd.sjoin_nearest(
            query, homes, how="left", max_distance=max_distance_m, distance_col="_dist"
        )
    joined = joined[~joined.index.duplicated(keep="first")]
    right = "index_right" if "index_right" in joined.columns else joined.columns[-2]
    found = joined[right].astype("string")
    out.loc[found.index] = found.where(found.notna(), out.loc[found.index])
    return out


# --------------------------------------------------------------------------------------------------
# locating homes from any location column


def locate_homes(
    locations: pd.DataFrame,
    *,
    addresses: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    crs: Any = WORK_CRS,
    min_score: float = DEFAULT_MIN_SCORE,
    building_distance_m: float = DEFAULT_BUILDING_DISTANCE_M,
) -> gpd.GeoDataFrame:
    """Locate each respondent's home from whatever location columns the survey has.

    Parameters
    ----------
    locations
        One row per respondent (``SurveyRead.locations``) with any of the columns of
        :data:`~qet_geo.surveys.schema.LOCATION_COLUMNS`: ``lon``/``lat`` (WGS84), ``x``/``y``
        (in ``crs``), ``cell_id``, ``address`` or ``housenumber``/``street``/``postcode``/
        ``city``, ``iris_code``. Tried in that order for each row.
    addresses
        House-number addresses of the neighbourhood's OSM extract (``read_osm(path).addresses``),
        needed to geocode addresses.
    buildings
        Buildings of the extract (``read_osm(path).buildings``), to find each home's residential
        building within ``building_distance_m``.
    crs
        CRS of ``x``/``y``; Lambert-93 (EPSG:2154) by default.
    min_score, building_distance_m
        As for :func:`geocode_addresses`.

    Returns
    -------
    geopandas.GeoDataFrame
        Aligned to ``locations`` (EPSG:2154): ``source`` (coordinates, cell, address, iris,
        none), ``match`` (for addresses: housenumber, street, none; else the source),
        ``score``, ``is_home`` (a home point: coordinates or a house-number match),
        ``building_key``, ``cell_id`` (given cell ids, canonical form), ``iris_code``,
        ``reason_en``/``reason_fr`` and the home point as geometry. Personal data: pass it to
        :func:`qet_geo.privacy.coarsen_locations`.

    Raises
    ------
    ValidationError
        ``locations`` has no location column, or addresses are given without ``addresses=``.
    CRSError
        ``crs`` is not a valid CRS, or a layer has no CRS.

    Warns
    -----
    QetGeoWarning
        Some respondents could not be located (with the count of each reason).
    """
    data_frame(locations, what="locations", hint=msg("passez SurveyRead.locations"))
    present = [c for c in LOCATION_COLUMNS if c in locations.columns]
    if not present:
        raise ValidationError(
            msg(
                "locations n'a aucune colonne de localisation (colonnes : "
                "{columns}) ; attendu certaines de {expected}.",
                columns=list(locations.columns),
                expected=list(LOCATION_COLUMNS),
            )
        )
    has_address = "address" in present or "street" in present
    if has_address and addresses is None:
        raise ValidationError(
            msg(
                "locations contient des adresses mais aucune adresse de référence n'est donnée : "
                "passez addresses=read_osm(extrait).addresses (géocodage hors ligne)."
            )
        )
    ref = _check_reference(addresses) if has_address and addresses is not None else None
    homes = _check_buildings(buildings)
    _check_distances(min_score=min_score, building_distance_m=building_distance_m)
    try:
        from pyproj import CRS

        CRS.from_user_input(crs)
    except Exception as exc:
        raise CRSError(
            msg(
                "crs {crs!r} n'est pas un système de coordonnées valide : passez par exemple "
                "'EPSG:2154'.",
                crs=crs,
            )
        ) from exc
    issues: list[QetGeoWarning] = []
    located = _locate(
        locations,
        reference=ref,
        homes=homes,
        crs=crs,
        min_score=float(min_score),
        building_distance_m=float(building_distance_m),
        issues=issues,
    )
    for issue in issues:
        warnings.warn(issue, stacklevel=2)
    return located


def _locate(
    locations: pd.DataFrame,
    *,
    reference: gpd.GeoDataFrame | None,
    homes: gpd.GeoDataFrame | None,
    crs: Any,
    min_score: float,
    building_distance_m: float,
    issues: list[QetGeoWarning],
) -> gpd.GeoDataFrame:
    n = len(locations)
    index = locations.index
    source = pd.Series("none", index=index, dtype="string")
    match = pd.Series("none", index=index, dtype="string")
    score = pd.Series(np.nan, index=index, dtype=float)
    building = pd.Series(pd.NA, index=index, dtype="string")
    cell = pd.Series(pd.NA, index=index, dtype="string")
    iris = pd.Series(pd.NA, index=index, dtype="string")
    reason = pd.Series([msg("pas de localisation")] * n, index=index, dtype=object)
    geometry = gpd.GeoSeries([None] * n, index=index, crs=WORK_CRS)

    # 1. coordinates
    for xcol, ycol, point_crs in (("lon", "lat", WGS84), ("x", "y", crs)):
        if xcol not in locations.columns or ycol not in locations.columns:
            continue
        todo = (source == "none").to_numpy()
        x = pd.to_numeric(
            locations[xcol].astype("string").str.replace(",", ".", regex=False), errors="coerce"
        ).to_numpy(dtype=float)
        y = pd.to_numeric(
            locations[ycol].astype("string").str.replace(",", ".", regex=False), errors="coerce"
        ).to_numpy(dtype=float)
        given = todo & (locations[xcol].notna() | locations[ycol].notna()).to_numpy()
        ok = given & np.isfinite(x) & np.isfinite(y)
        if xcol == "lon":
            ok &= (np.abs(x) <= 180) & (np.abs(y) <= 90)
        bad = given & ~ok
        reason[bad] = msg("{xcol}/{ycol} ne sont pas des coordonnées valides", xcol=xcol, ycol=ycol)
        if ok.any():
            pts = gpd.GeoSeries(shapely.points(x[ok], y[ok]), crs=point_crs).to_crs(WORK_CRS)
            geometry[ok] = pts.to_numpy()
            source[ok] = "coordinates"
            match[ok] = "coordinates"
            reason[ok] = None

    # 2. cell ids
    if "cell_id" in locations.columns:
        cell_rows = (source == "none").to_numpy() & locations["cell_id"].notna().to_numpy()
        for i in (int(k) for k in np.flatnonzero(cell_rows)):
            canonical = _canonical_cell(str(locations["cell_id"].iloc[i]))
            if canonical is None:
                reason.iloc[i] = msg(
                    "l'identifiant de carreau est illisible (attendu CRS3035RES200mN…E…)"
                )
                continue
            cell.iloc[i] = canonical
            source.iloc[i] = "cell"
            match.iloc[i] = "cell"
            reason.iloc[i] = None

    # 3. addresses
    if reference is not None:
        has_text = pd.Series(False, index=index)
        for col in ("address", "street"):
            if col in locations.columns:
                has_text |= locations[col].notna()
        address_rows = (source == "none") & has_text
        if address_rows.any():
            cols = [
                c
                for c in ("address", "housenumber", "street", "postcode", "city")
                if c in locations.columns
            ]
            parts = _address_parts(locations.loc[address_rows, cols])
            found = _geocode(
                parts,
                reference,
                homes=None,
                min_score=min_score,
                building_distance_m=building_distance_m,
            )
            source[address_rows] = "address"
            match[address_rows] = found["match"]
            score[address_rows] = found["score"]
            building[address_rows] = found["building_key"]
            reason[address_rows] = found["_reason"]
            geometry[address_rows] = found.geometry

    # 4. IRIS codes
    if "iris_code" in locations.columns:
        codes = locations["iris_code"].astype("string").str.strip()
        codes = codes.where(~codes.str.fullmatch(r"\d{8}").fillna(False), "0" + codes)
        valid = codes.str.fullmatch(r"\d[\dAB]\d{7}").fillna(False)
        iris[valid] = codes[valid]
        iris_rows = (source == "none") & codes.notna()
        use = iris_rows & valid
        source[use] = "iris"
        match[use] = "iris"
        reason[use] = None
        bad_iris = iris_rows & ~valid
        reason[bad_iris] = msg("le code IRIS n'a pas 9 caractères (par exemple 751010101)")

    is_home = (
        geometry.notna().to_numpy()
        & ((source == "coordinates") | (match == "housenumber")).to_numpy()
    )
    if homes is not None and is_home.any():
        building = _nearest_buildings(geometry, building, homes, building_distance_m)
    result = gpd.GeoDataFrame(
        {
            "source": source,
            "match": match,
            "score": score,
            "is_home": is_home,
            "building_key": building,
            "cell_id": cell,
            "iris_code": iris,
            "_reason": reason,
        },
        geometry=geometry,
        crs=WORK_CRS,
        index=index,
    )
    not_located = (source == "none") | (match.isin(["street", "none"]) & (source == "address"))
    if not_located.any():
        reasons = reason[not_located]
        first = {m.render("fr"): m for m in reversed(list(reasons))}
        counts = reasons.map(lambda m: m.render("fr")).value_counts()
        detail = join(
            [msg("{reason} : {n}", reason=first[k], n=v) for k, v in counts.items()], "; "
        )
        issues.append(
            QetGeoWarning(
                msg(
                    "{n_missing} répondants sur {n} n'ont pas pu être localisés ({detail}) ; "
                    "corrigez leur localisation dans le fichier.",
                    n_missing=int(not_located.sum()),
                    n=n,
                    detail=detail,
                )
            )
        )
    return _render_reasons(result)


def _canonical_cell(text: str) -> str | None:
    from qet_geo.inputs.census import cell_id_to_polygon

    try:
        square = cell_id_to_polygon(pd.Series([text.strip()])).iloc[0]
    except ValidationError:
        return None
    if square is None:
        return None
    minx, miny, maxx, _ = square.bounds
    return grid.cell_id(maxx - minx, miny, minx)
