"""Public-transport supply from GTFS feeds: departures per stop in a time window.

A GTFS feed (General Transit Feed Specification) is the zip archive of timetables that French
transport authorities publish, for instance on transport.data.gouv.fr. This module reads one
offline with gtfs-kit and turns it into a point layer in Lambert-93 (EPSG:2154): for each stop,
how many departures a passenger can catch on a given day and time window, on how many routes,
and by which modes.

GTFS times count hours from the start of a trip's *service day* and may exceed 24, so
``25:05:00`` on Monday's service is 01:05 on Tuesday. Windows given to :func:`stop_departures` are
clock times on the date asked for and may run past midnight (``end="25:00"``); trips of the
previous service day that run past midnight count at the clock time they actually depart.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import warnings
import zipfile
from dataclasses import dataclass
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import Literal

import geopandas as gpd
import gtfs_kit as gk
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from qet_geo._validate import existing_file, require_crs
from qet_geo.crs import WGS84, WORK_CRS
from qet_geo.errors import (
    CRSError,
    EmptyDataError,
    InputFileError,
    QetGeoError,
    QetGeoWarning,
    ValidationError,
)
from qet_geo.i18n import Msg, join, msg

__all__ = ["read_feed", "route_type_mode", "stop_departures"]

logger = logging.getLogger(__name__)


_REQUIRED_FILES = ("stops.txt", "stop_times.txt", "trips.txt")
_CALENDAR_FILES = ("calendar.txt", "calendar_dates.txt")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "stops": ("stop_id", "stop_lat", "stop_lon"),
    "stop_times": ("trip_id", "stop_id", "stop_sequence"),
    "trips": ("trip_id", "route_id", "service_id"),
    "calendar": ("service_id", *_WEEKDAYS, "start_date", "end_date"),
    "calendar_dates": ("service_id", "date", "exception_type"),
}
_FEED_CONTENT = msg(
    "Un flux GTFS est une archive zip (ou un dossier) contenant au moins stops.txt, "
    "stop_times.txt, trips.txt, et calendar.txt ou calendar_dates.txt"
)

_DAY_S = 86_400
_CLOCK_RE = re.compile(r"^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$")
_GTFS_TIME_RE = r"^\s*(\d{1,3}):([0-5]\d):([0-5]\d)\s*$"
# Tuesday, Wednesday, Thursday: the weekdays least affected by long weekends and market days.
_MIDWEEK = (1, 2, 3)
_CHUNK_DAYS = 366

# GTFS route_type -> mode name: the basic types, then ranges of the extended (HVT) types.
_BASIC_MODES = {
    0: "tram",
    1: "metro",
    2: "rail",
    3: "bus",
    4: "ferry",
    5: "cable_tram",
    6: "aerial_lift",
    7: "funicular",
    11: "trolleybus",
    12: "monorail",
}
_EXTENDED_MODES = (
    (100, 200, "rail"),
    (200, 300, "coach"),
    (300, 400, "rail"),
    (400, 700, "metro"),
    (700, 800, "bus"),
    (800, 900, "trolleybus"),
    (900, 1000, "tram"),
    (1000, 1100, "ferry"),
    (1100, 1200, "air"),
    (1200, 1300, "ferry"),
    (1300, 1400, "aerial_lift"),
    (1400, 1500, "funicular"),
    (1500, 1600, "taxi"),
)


# --------------------------------------------------------------------------------------------
# Reading


def read_feed(path: str | PathLike[str]) -> gk.Feed:
    """Read a GTFS feed from a zip archive or a folder, with distances in kilometres.

    Parameters
    ----------
    path
        A GTFS zip archive, or a folder holding the feed's ``.txt`` files.

    Returns
    -------
    gtfs_kit.Feed
        The feed, with ``dist_units="km"``.

    Raises
    ------
    InputFileError
        If the path does not exist, is neither a zip archive nor a folder, or lacks one of
        stops.txt, stop_times.txt, trips.txt and both calendar.txt and calendar_dates.txt (an
        empty or header-only file counts as missing), or a table lacks a required column, or a
        file cannot be parsed.
    """
    p = Path(path)
    existing_file(
        p,
        what=msg("Flux GTFS"),
        hint=msg(
            "Indiquez le chemin de l'archive zip du flux (ou du dossier contenant ses "
            "fichiers .txt)."
        ),
    )
    members = _feed_members(p)
    missing = [name for name in _REQUIRED_FILES if name not in members]
    if not any(name in members for name in _CALENDAR_FILES):
        missing.append("calendar.txt or calendar_dates.txt")
    if missing:
        raise InputFileError(
            msg(
                "Le flux GTFS {p} ne contient pas (ou contient vides) {missing}. "
                "{content} ; téléchargez à nouveau le flux complet auprès de son "
                "éditeur (par ex. transport.data.gouv.fr).",
                p=p,
                missing=", ".join(missing),
                content=_FEED_CONTENT,
            ),
            path=p,
        )
    try:
        feed = gk.read_feed(p, dist_units="km")
    except (ValueError, TypeError, OSError, zipfile.BadZipFile, UnicodeDecodeError) as err:
        raise InputFileError(
            msg(
                "Le flux GTFS {p} n'a pas pu être lu ({err}). Vérifiez que ses fichiers sont des "
                "CSV UTF-8 avec les noms de colonnes GTFS, ou téléchargez à nouveau le flux.",
                p=p,
                err=err,
            ),
            path=p,
        ) from err
    _check_tables(feed, path=p)
    return feed


def _feed_members(path: Path) -> set[str]:
    """Return the names of the non-empty ``.txt`` files of a feed archive or folder."""
    if path.is_dir():
        return {
            f.name
            for f in path.iterdir()
            if f.is_file() and f.suffix == ".txt" and f.stat().st_size
        }
    if not zipfile.is_zipfile(path):
        raise InputFileError(
            msg(
                "Le flux GTFS {path} n'est pas une archive zip. {content} ; indiquez le "
                "fichier .zip tel que publié, ou le dossier obtenu en le décompressant.",
                path=path,
                content=_FEED_CONTENT,
            ),
            path=path,
        )
    try:
        with zipfile.ZipFile(path) as zf:
            # gtfs-kit reads members by file name wherever they sit in the archive.
            return {
                PurePosixPath(info.filename).name
                for info in zf.infolist()
                if not info.is_dir() and info.filename.endswith(".txt") and info.file_size
            }
    except (zipfile.BadZipFile, OSError) as err:
        raise InputFileError(
            msg(
                "L'archive du flux GTFS {path} est endommagée ({err}) ; téléchargez-la à nouveau.",
                path=path,
                err=err,
            ),
            path=path,
        ) from err


def _check_tables(feed: gk.Feed, *, path: Path | None) -> None:
    """Raise if a table the departure count needs is absent, empty or lacks a column."""
    name = msg("Le flux GTFS") if path is None else msg("Le flux GTFS {path}", path=path)
    error: type[QetGeoError] = ValidationError if path is None else InputFileError
    empty: list[Msg | str] = [
        f"{t}.txt" for t in ("stops", "stop_times", "trips") if getattr(feed, t) is None
    ]
    if feed.calendar is None and feed.calendar_dates is None:
        empty.append(msg("calendar.txt ou calendar_dates.txt"))
    if empty:
        raise error(
            msg(
                "{name} n'a aucune ligne dans {empty}. {content}, chacun avec "
                "au moins une ligne ; utilisez le flux complet.",
                empty=join(empty),
                content=_FEED_CONTENT,
                name=name,
            ),
            path=path,
        )
    problems: list[Msg] = []
    for table, columns in _REQUIRED_COLUMNS.items():
        df = getattr(feed, table)
        if df is None:
            continue
        absent = [c for c in columns if c not in df.columns]
        if absent:
            problems.append(
                msg("{table}.txt n'a pas {columns}", table=table, columns=", ".join(absent))
            )
    if not {"departure_time", "arrival_time"} & set(feed.stop_times.columns):
        problems.append(msg("stop_times.txt n'a ni departure_time ni arrival_time"))
    for table, column in (("stops", "stop_id"), ("trips", "trip_id"), ("routes", "route_id")):
        df = getattr(feed, table)
        if df is not None and column in df.columns and df[column].duplicated().any():
            dup = df.loc[df[column].duplicated(), column].iloc[0]
            problems.append(
                msg("{table}.txt répète {column} {dup!r}", table=table, column=column, dup=dup)
            )
    if problems:
        raise error(
            msg(
                "{name} n'est pas un GTFS valide : {problems}. Corrigez ces tables (voir "
                "gtfs.org/schedule/reference) ou téléchargez à nouveau le flux.",
                problems=join(problems, "; "),
                name=name,
            ),
            path=path,
        )


# --------------------------------------------------------------------------------------------
# Departures per stop


def stop_departures(
    feed_or_path: gk.Feed | str | PathLike[str],
    *,
    date: str | dt.date | None = None,
    start: str = "07:00",
    end: str = "09:00",
    mask: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    by: Literal["stop", "station"] = "stop",
) -> gpd.GeoDataFrame:
    """Count the departures a passenger can board at each stop in a time window of one day.

    A departure is a row of stop_times.txt whose trip runs on ``date`` and whose departure time
    (its arrival time when the departure time is empty) falls in ``[start, end)``, except the
    last stop of each trip (the vehicle terminates there) and stops where boarding is forbidden
    (``pickup_type`` 1). Stop times with no time at all (untimed stops between timepoints) are
    not counted. Trips of the previous service day that run past midnight (times such as
    ``25:05:00``) count on ``date`` at their actual clock time. Frequency-based trips
    (frequencies.txt) are expanded into scheduled trips first.

    Parameters
    ----------
    feed_or_path
        A feed from :func:`read_feed` (or ``gtfs_kit.read_feed``), or the path of a GTFS zip
        archive or folder.
    date
        ``"YYYYMMDD"``, ``"YYYY-MM-DD"`` or a date; None picks a representative weekday: the
        Tuesday, Wednesday or Thursday with the most active trips in the feed's service period
        (any Monday to Friday if the feed has none of those, any day if it has no weekday
        service), the earliest one on ties. The date used is stored in ``attrs["date"]``.
    start, end
        Clock times ``"HH:MM"`` or ``"HH:MM:SS"`` bounding the window on ``date``, start
        included, end excluded; ``end`` may exceed ``24:00`` to run past midnight. The window is
        at most 24 hours long.
    mask
        An area in EPSG:2154 (a shapely geometry, or a GeoSeries or GeoDataFrame in any CRS,
        whose union is used); only stops intersecting it are kept. None keeps every stop.
    by
        ``"stop"``: one row per boarding point (GTFS ``location_type`` 0 or empty);
        ``"station"``: boarding points sharing a parent station (``location_type`` 1) are merged
        into one row carrying the station's id, name and position (the mean of its boarding
        points if the station has none), with departures summed and routes and modes united;
        boarding points without a parent station stay as they are.

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:2154, one row per stop (or station) of the feed, in the feed's order, including
        those with no departure, with columns ``stop_id``, ``stop_name``, ``parent_station``
        (``by="stop"`` only), ``departures``, ``departures_per_hour`` (departures divided by the
        window's length in hours), ``n_routes`` (routes with at least one departure counted),
        ``modes`` (their sorted mode names, see :func:`route_type_mode`, joined by ``", "``;
        empty when there is no departure) and ``geometry``. ``attrs`` holds ``date``
        (``"YYYY-MM-DD"``), ``start``, ``end`` (``"HH:MM:SS"``), ``window_h`` and ``by``.

    Raises
    ------
    InputFileError
        If ``feed_or_path`` is a path that is not a readable GTFS feed (see :func:`read_feed`).
    ValidationError
        If ``date`` is malformed or outside the feed's service period (the message gives its
        first and last service dates), if ``start``/``end`` are malformed or do not make a
        window of at most 24 hours, if ``by`` is unknown, or if the feed lacks a table.
    CRSError
        If ``mask`` looks like longitude/latitude degrees or its GeoSeries has no CRS.
    EmptyDataError
        If no trip of the feed runs on any day of its calendar.

    Warns
    -----
    QetGeoWarning
        If no trip runs on ``date``, if trips have a service absent from the calendar, if
        departures are lost to stop times referring to unknown trips or to stops that are not
        boarding points, to unparseable times or to untimed stops, or if no stop lies within
        ``mask``.

    Examples
    --------
    >>> stops = stop_departures("ajaccio_gtfs.zip", start="07:00", end="09:00")  # doctest: +SKIP
    >>> stops.nlargest(3, "departures_per_hour")  # doctest: +SKIP
    """
    if isinstance(feed_or_path, gk.Feed):
        feed = feed_or_path
        _check_tables(feed, path=None)
    else:
        feed = read_feed(feed_or_path)
    start_s = _parse_clock(start, name="start")
    end_s = _parse_clock(end, name="end")
    if not start_s < end_s <= start_s + _DAY_S:
        raise ValidationError(
            msg(
                "La plage start={start!r}, end={end!r} est vide ou dépasse 24 heures. Donnez une "
                "fin postérieure au début, au plus 24 heures après (par ex. end='25:00' pour "
                "dépasser minuit).",
                start=start,
                end=end,
            )
        )
    if by not in ("stop", "station"):
        raise ValidationError(
            msg("by={by!r} n'est pas une option ; utilisez 'stop' ou 'station'.", by=by)
        )
    mask_geom = None if mask is None else _mask_geometry(mask)
    if feed.frequencies is not None and not feed.frequencies.empty:
        feed = feed.expand_frequencies()

    calendar = _Calendar.from_feed(feed)
    no_calendar = ~feed.trips["service_id"].isin(calendar.services)
    if no_calendar.any():
        n, example = int(no_calendar.sum()), feed.trips.loc[no_calendar, "service_id"].iloc[0]
        _warn(
            msg(
                "{n} trajets de trips.txt ont un service_id absent de calendar.txt et de "
                "calendar_dates.txt (par ex. {example!r}) et ne circulent jamais ; ajoutez leur "
                "service au calendrier.",
                n=n,
                example=example,
            ),
            stacklevel=3,
        )
    trips_per_day, days = _trips_per_day(calendar, feed.trips["service_id"])
    running = np.flatnonzero(trips_per_day)
    if running.size == 0:
        raise EmptyDataError(
            msg(
                "Aucun trajet du flux GTFS ne circule à une date de son calendrier : les "
                "service_id de trips.txt ne correspondent à aucun service actif de calendar.txt "
                "/ calendar_dates.txt. Utilisez un flux complet et cohérent."
            )
        )
    first, last = days[running[0]], days[running[-1]]
    if date is None:
        day = _representative_day(days, trips_per_day)
        logger.info("GTFS: representative weekday %s", day)
    else:
        day = _parse_date(date)
        if not first <= day <= last:
            raise ValidationError(
                msg(
                    "La date {day} est hors de la période de service du flux GTFS, du {first} au "
                    "{last}. Choisissez une date dans cette période, ou date=None pour un jour de "
                    "semaine représentatif.",
                    day=day,
                    first=first,
                    last=last,
                )
            )
        if trips_per_day[int((day - days[0]).astype(int))] == 0:
            _warn(
                msg(
                    "Aucun trajet du flux GTFS ne circule le {day} (jour férié ou sans service) ; "
                    "chaque arrêt a 0 départ. Choisissez une autre date pour mesurer l'offre "
                    "habituelle.",
                    day=day,
                ),
                stacklevel=3,
            )
    gdf = _stop_departures(
        feed, calendar=calendar, day=day, start_s=start_s, end_s=end_s, mask=mask_geom, by=by
    )
    gdf.attrs.update(
        date=str(day),
        start=_clock_str(start_s),
        end=_clock_str(end_s),
        window_h=(end_s - start_s) / 3600,
        by=by,
    )
    return gdf


def route_type_mode(route_type: int) -> str:
    """Return the mode name of a GTFS ``route_type``, basic or extended.

    Parameters
    ----------
    route_type
        A basic GTFS route type (0 tram, 1 metro, 2 rail, 3 bus, 4 ferry, 5 cable_tram,
        6 aerial_lift, 7 funicular, 11 trolleybus, 12 monorail) or an extended one (100-1599).

    Returns
    -------
    str
        One of ``tram``, ``metro``, ``rail``, ``bus``, ``coach``, ``ferry``, ``cable_tram``,
        ``aerial_lift``, ``funicular``, ``trolleybus``, ``monorail``, ``air``, ``taxi``, or
        ``other`` for codes outside the specification.
    """
    if route_type in _BASIC_MODES:
        return _BASIC_MODES[route_type]
    for low, high, mode in _EXTENDED_MODES:
        if low <= route_type < high:
            return mode
    return "other"


def _stop_departures(
    feed: gk.Feed,
    *,
    calendar: _Calendar,
    day: np.datetime64,
    start_s: int,
    end_s: int,
    mask: BaseGeometry | None,
    by: Literal["stop", "station"],
) -> gpd.GeoDataFrame:
    """Count departures per stop; inputs are valid (see :func:`stop_departures`)."""
    stops = feed.stops
    location = _column(stops, "location_type").fillna(0).astype("int64")
    is_boarding = location.eq(0)
    boarding = stops.loc[is_boarding].assign(
        stop_name=_column(stops, "stop_name").astype("string")[is_boarding],
        parent_station=_column(stops, "parent_station").astype("string")[is_boarding],
    )
    no_xy = boarding["stop_lat"].isna() | boarding["stop_lon"].isna()
    if no_xy.any():
        n, example = int(no_xy.sum()), boarding.loc[no_xy, "stop_id"].iloc[0]
        _warn(
            msg(
                "{n} arrêts de stops.txt n'ont pas de stop_lat/stop_lon et sont écartés (par ex. "
                "{example}) ; renseignez leurs coordonnées.",
                n=n,
                example=example,
            ),
            stacklevel=4,
        )
        boarding = boarding.loc[~no_xy]

    departed = _counted_departures(feed, calendar=calendar, day=day, start_s=start_s, end_s=end_s)
    known = departed["stop_id"].isin(boarding["stop_id"])
    if not known.all():
        n, example = int((~known).sum()), departed.loc[~known, "stop_id"].iloc[0]
        _warn(
            msg(
                "{n} départs de la plage ont lieu à des stop_id qui ne sont pas des arrêts de "
                "stops.txt (absents, ou de location_type autre que 0) et ne sont pas comptés "
                "(par ex. {example}) ; corrigez stops.txt.",
                n=n,
                example=example,
            ),
            stacklevel=4,
        )
        departed = departed.loc[known]

    if by == "station":
        station_ids = stops.loc[location.eq(1), "stop_id"]
        key = boarding["parent_station"].where(
            boarding["parent_station"].isin(station_ids), boarding["stop_id"]
        )
        rows = _station_rows(stops.loc[location.eq(1)], boarding, key)
    else:
        key = boarding["stop_id"]
        rows = boarding[["stop_id", "stop_name", "parent_station", "stop_lat", "stop_lon"]]
        rows = rows.reset_index(drop=True)
    group = pd.Series(key.to_numpy(), index=boarding["stop_id"].to_numpy())
    departed = departed.assign(key=group.reindex(departed["stop_id"].to_numpy()).to_numpy())

    counts = departed.groupby("key").size()
    pairs = departed[["key", "route_id", "mode"]].drop_duplicates(["key", "route_id"])
    n_routes = pairs.groupby("key").size()
    has_mode = pd.crosstab(pairs["key"], pairs["mode"]).gt(0)
    modes = pd.Series("", index=has_mode.index, dtype=object)
    for mode in sorted(has_mode.columns):  # a handful of modes, never a loop over stops
        modes = modes + np.where(has_mode[mode], f"{mode}, ", "")
    modes = modes.str.removesuffix(", ")

    ids = rows["stop_id"]
    out = pd.DataFrame(
        {
            "stop_id": ids,
            "stop_name": rows["stop_name"],
            **({"parent_station": rows["parent_station"]} if by == "stop" else {}),
            "departures": counts.reindex(ids).fillna(0).astype("int64").to_numpy(),
        }
    )
    out["departures_per_hour"] = out["departures"] / ((end_s - start_s) / 3600)
    out["n_routes"] = n_routes.reindex(ids).fillna(0).astype("int64").to_numpy()
    out["modes"] = modes.reindex(ids).fillna("").astype(str).to_numpy()
    points = gpd.points_from_xy(rows["stop_lon"], rows["stop_lat"], crs=WGS84)
    gdf = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(points, index=out.index).to_crs(WORK_CRS))
    if mask is not None:
        inside = np.sort(gdf.sindex.query(mask, predicate="intersects"))
        if inside.size == 0 and len(gdf):
            left, bottom, right, top = gdf.total_bounds
            span = f"x {left:.0f}-{right:.0f}, y {bottom:.0f}-{top:.0f}"
            _warn(
                msg(
                    "Aucun arrêt du flux GTFS n'est dans mask (les arrêts du flux couvrent {span} en "
                    "EPSG:2154). Vérifiez que mask est en EPSG:2154 et que le flux dessert cette "
                    "zone.",
                    span=span,
                ),
                stacklevel=4,
            )
        gdf = gdf.iloc[inside].reset_index(drop=True)
    return gdf


def _counted_departures(
    feed: gk.Feed, *, calendar: _Calendar, day: np.datetime64, start_s: int, end_s: int
) -> pd.DataFrame:
    """Return ``stop_id``, ``route_id``, ``mode`` of each departure counted on ``day``."""
    st = feed.stop_times
    trips = feed.trips
    # Services of the day itself and of the day before (its trips may run past midnight).
    active = calendar.active(np.array([day, day - np.timedelta64(1, "D")]))
    services = calendar.services
    trip_service = services.get_indexer(trips["service_id"])
    trip_on = np.zeros((len(trips), 2), dtype=bool)
    known_service = trip_service >= 0
    trip_on[known_service] = active[trip_service[known_service]]

    trip_pos = pd.Index(trips["trip_id"]).get_indexer(st["trip_id"])
    orphans = trip_pos < 0
    if orphans.any():
        n, example = int(orphans.sum()), st["trip_id"].iloc[int(np.argmax(orphans))]
        _warn(
            msg(
                "{n} lignes de stop_times.txt renvoient à des trip_id absents de trips.txt et "
                "sont ignorées (par ex. {example}) ; corrigez le flux pour que chaque horaire "
                "appartienne à un trajet.",
                n=n,
                example=example,
            ),
            stacklevel=5,
        )
    row_on = np.zeros((len(st), 2), dtype=bool)
    row_on[~orphans] = trip_on[trip_pos[~orphans]]

    times = _column(st, "departure_time").fillna(_column(st, "arrival_time"))
    secs = _gtfs_seconds(times)
    bad = np.isnan(secs) & times.notna().to_numpy()
    if bad.any():
        n, example = int(bad.sum()), times[bad].iloc[0]
        _warn(
            msg(
                "{n} heures de stop_times.txt ne sont pas au format HH:MM:SS et sont ignorées "
                "(par ex. {example!r}) ; corrigez-les dans le flux.",
                n=n,
                example=example,
            ),
            stacklevel=5,
        )
    with np.errstate(invalid="ignore"):
        today = row_on[:, 0] & (secs >= start_s) & (secs < end_s)
        overnight = row_on[:, 1] & (secs - _DAY_S >= start_s) & (secs - _DAY_S < end_s)

    sequence = st["stop_sequence"]
    last = sequence.eq(sequence.groupby(st["trip_id"]).transform("max")).fillna(False)
    no_pickup = _column(st, "pickup_type").eq(1).fillna(False)
    boardable = ~last.to_numpy(dtype=bool) & ~no_pickup.to_numpy(dtype=bool)
    untimed = row_on.any(axis=1) & boardable & times.isna().to_numpy()
    if untimed.any():
        n = int(untimed.sum())
        _warn(
            msg(
                "{n} passages de trajets circulant le {day} n'ont ni heure de départ ni heure "
                "d'arrivée (arrêts non horaires entre deux points de référence) et ne sont pas "
                "comptés ; interpolez leurs heures dans stop_times.txt pour les compter.",
                n=n,
                day=day,
            ),
            stacklevel=5,
        )
    counted = (today | overnight) & boardable

    route_ids = trips["route_id"].to_numpy()[trip_pos[counted]]
    return pd.DataFrame(
        {
            "stop_id": st["stop_id"].to_numpy()[counted],
            "route_id": route_ids,
            "mode": _route_modes(feed.routes).reindex(route_ids).fillna("other").to_numpy(),
        }
    )


def _station_rows(stations: pd.DataFrame, boarding: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    """Return one row per station (or lone boarding stop), in the order of first appearance."""
    mean_xy = boarding[["stop_lat", "stop_lon"]].groupby(key.to_numpy(), sort=False).mean()
    first_name = boarding["stop_name"].groupby(key.to_numpy(), sort=False).first()
    rows = pd.DataFrame({"stop_id": mean_xy.index.to_numpy()})
    st_idx = stations.set_index("stop_id")
    lat = st_idx["stop_lat"].reindex(rows["stop_id"]).to_numpy()
    lon = st_idx["stop_lon"].reindex(rows["stop_id"]).to_numpy()
    has_xy = ~(np.isnan(lat) | np.isnan(lon))
    rows["stop_lat"] = np.where(has_xy, lat, mean_xy["stop_lat"].to_numpy())
    rows["stop_lon"] = np.where(has_xy, lon, mean_xy["stop_lon"].to_numpy())
    names = _column(st_idx, "stop_name").reindex(rows["stop_id"]).to_numpy()
    rows["stop_name"] = pd.Series(names).fillna(
        first_name.reindex(rows["stop_id"]).reset_index(drop=True)
    )
    return rows


# --------------------------------------------------------------------------------------------
# Calendar


@dataclass(frozen=True)
class _Calendar:
    """The service calendar as arrays: which service runs on which day."""

    services: pd.Index
    cal_rows: np.ndarray
    cal_start: np.ndarray
    cal_end: np.ndarray
    cal_weekdays: np.ndarray
    exc_rows: np.ndarray
    exc_dates: np.ndarray
    exc_added: np.ndarray
    first: np.datetime64
    last: np.datetime64

    @classmethod
    def from_feed(cls, feed: gk.Feed) -> _Calendar:
        cal = (
            feed.calendar
            if feed.calendar is not None
            else pd.DataFrame(columns=list(_REQUIRED_COLUMNS["calendar"]))
        )
        exc = (
            feed.calendar_dates
            if feed.calendar_dates is not None
            else pd.DataFrame(columns=list(_REQUIRED_COLUMNS["calendar_dates"]))
        )
        exc = exc.loc[exc["exception_type"].isin([1, 2])]
        services = pd.Index(pd.concat([cal["service_id"], exc["service_id"]]).unique())
        cal_start = _gtfs_dates(cal["start_date"], column="calendar.txt start_date")
        cal_end = _gtfs_dates(cal["end_date"], column="calendar.txt end_date")
        exc_dates = _gtfs_dates(exc["date"], column="calendar_dates.txt date")
        bounds = np.concatenate([cal_start, cal_end, exc_dates])
        return cls(
            services=services,
            cal_rows=services.get_indexer(cal["service_id"]),
            cal_start=cal_start,
            cal_end=cal_end,
            cal_weekdays=cal[list(_WEEKDAYS)].fillna(0).to_numpy(dtype="int64") == 1,
            exc_rows=services.get_indexer(exc["service_id"]),
            exc_dates=exc_dates,
            exc_added=exc["exception_type"].to_numpy(dtype="int64") == 1,
            first=bounds.min(),
            last=bounds.max(),
        )

    def active(self, days: np.ndarray) -> np.ndarray:
        """Return a boolean array (services x days): whether each service runs on each day."""
        weekday = (days.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
        on = (
            (self.cal_start[:, None] <= days[None, :])
            & (days[None, :] <= self.cal_end[:, None])
            & self.cal_weekdays[:, weekday]
        )
        active = np.zeros((len(self.services), len(days)), dtype=bool)
        np.logical_or.at(active, self.cal_rows, on)  # a service may span several calendar rows
        day_pos = pd.Index(days).get_indexer(self.exc_dates)
        hit = day_pos >= 0
        added, removed = hit & self.exc_added, hit & ~self.exc_added
        active[self.exc_rows[added], day_pos[added]] = True
        active[self.exc_rows[removed], day_pos[removed]] = False
        return active


def _trips_per_day(calendar: _Calendar, trip_services: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return the number of trips running each day of the calendar, and those days."""
    days = np.arange(calendar.first, calendar.last + np.timedelta64(1, "D"))
    per_service = (
        trip_services.value_counts().reindex(calendar.services).fillna(0).to_numpy(dtype="int64")
    )
    counts = np.zeros(len(days), dtype="int64")
    for lo in range(0, len(days), _CHUNK_DAYS):  # bounds memory for feeds valid for decades
        chunk = days[lo : lo + _CHUNK_DAYS]
        counts[lo : lo + len(chunk)] = per_service @ calendar.active(chunk)
    return counts, days


def _representative_day(days: np.ndarray, trips_per_day: np.ndarray) -> np.datetime64:
    """Return the earliest busiest midweek day (else weekday, else any day) with service."""
    weekday = (days.astype("int64") + 3) % 7
    for allowed in (_MIDWEEK, (0, 1, 2, 3, 4)):
        counts = np.where(np.isin(weekday, allowed), trips_per_day, 0)
        if counts.max() > 0:
            return days[int(np.argmax(counts))]
    return days[int(np.argmax(trips_per_day))]  # weekend-only service


# --------------------------------------------------------------------------------------------
# Small parsers


def _gtfs_dates(values: pd.Series, *, column: str) -> np.ndarray:
    """Parse GTFS ``YYYYMMDD`` dates to ``datetime64[D]``; raise naming the column if invalid."""
    parsed = pd.to_datetime(values.astype("string").str.strip(), format="%Y%m%d", errors="coerce")
    bad = parsed.isna()
    if bad.any():
        raise InputFileError(
            msg(
                "{column} contient {n_bad} valeurs qui ne sont pas des dates AAAAMMJJ (par "
                "ex. {example!r}) ; corrigez le calendrier du flux.",
                column=column,
                n_bad=int(bad.sum()),
                example=values[bad].iloc[0],
            )
        )
    return parsed.to_numpy(dtype="datetime64[D]")


def _gtfs_seconds(times: pd.Series) -> np.ndarray:
    """Return GTFS ``H:MM:SS`` times (hours may exceed 23) as seconds, NaN when unparseable."""
    codes, uniques = pd.factorize(times)  # a feed repeats few distinct times: parse those once
    parts = pd.Series(uniques, dtype="string").str.extract(_GTFS_TIME_RE)
    hms = parts.apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    secs = np.append(hms @ np.array([3600.0, 60.0, 1.0]), np.nan)  # codes -1 -> NaN
    return secs[codes]


def _parse_clock(value: str, *, name: str) -> int:
    """Parse ``"HH:MM"`` or ``"HH:MM:SS"`` (hours up to 47) to seconds."""
    match = _CLOCK_RE.match(value.strip()) if isinstance(value, str) else None
    if match is None or int(match[1]) > 47:
        raise ValidationError(
            msg(
                "{name}={value!r} n'est pas une heure ; donnez 'HH:MM' ou 'HH:MM:SS', par ex. "
                "'07:30' (heures jusqu'à 47 pour un service après minuit).",
                name=name,
                value=value,
            )
        )
    return int(match[1]) * 3600 + int(match[2]) * 60 + int(match[3] or 0)


def _clock_str(seconds: int) -> str:
    """Format seconds as ``HH:MM:SS``."""
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _parse_date(value: str | dt.date) -> np.datetime64:
    """Parse ``"YYYYMMDD"``, ``"YYYY-MM-DD"`` or a date to ``datetime64[D]``."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return np.datetime64(value, "D")
    if isinstance(value, str):
        for fmt in ("%Y%m%d", "%Y-%m-%d"):
            try:
                return np.datetime64(dt.datetime.strptime(value.strip(), fmt).date(), "D")
            except ValueError:
                continue
    raise ValidationError(
        msg(
            "date={value!r} n'est pas une date ; donnez 'AAAA-MM-JJ' ou 'AAAAMMJJ', par ex. "
            "'2020-03-10'.",
            value=value,
        )
    )


def _mask_geometry(mask: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame) -> BaseGeometry:
    """Return the mask as one shapely geometry in EPSG:2154."""
    if isinstance(mask, gpd.GeoDataFrame | gpd.GeoSeries):
        require_crs(mask, what="mask")
        geom = mask.to_crs(WORK_CRS).union_all()
    elif isinstance(mask, BaseGeometry):
        geom = mask
    else:
        raise ValidationError(
            msg(
                "mask doit être une géométrie shapely, une GeoSeries ou un GeoDataFrame, pas "
                "{type_name}.",
                type_name=type(mask).__name__,
            )
        )
    if geom.is_empty:
        raise ValidationError(
            msg(
                "mask est une géométrie vide ; donnez la zone dont garder les arrêts, ou mask=None."
            )
        )
    left, bottom, right, top = geom.bounds
    if max(abs(left), abs(right)) <= 180 and max(abs(bottom), abs(top)) <= 90:
        raise CRSError(
            msg(
                "mask semble en degrés de longitude/latitude, pas en mètres Lambert-93 ; "
                "reprojetez-le en EPSG:2154 (ou passez une GeoSeries avec son CRS)."
            )
        )
    return geom


def _route_modes(routes: pd.DataFrame | None) -> pd.Series:
    """Return the mode name of each route, indexed by ``route_id``."""
    if routes is None or "route_type" not in routes.columns:
        return pd.Series(dtype=object)
    types = routes["route_type"].astype("Int64")
    names = {int(t): route_type_mode(int(t)) for t in types.dropna().unique()}
    return pd.Series(
        types.map(names).fillna("other").to_numpy(dtype=object), index=routes["route_id"]
    )


def _warn(text: Msg, *, stacklevel: int) -> None:
    """Warn about a data problem the user can fix; ``stacklevel`` counts from the caller."""
    warnings.warn(QetGeoWarning(text), stacklevel=stacklevel)


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    """Return a column, or an all-missing one when the optional GTFS column is absent."""
    if name in df.columns:
        return df[name]
    return pd.Series(pd.NA, index=df.index, dtype="object")
