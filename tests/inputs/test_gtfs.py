"""Tests of qet_geo.inputs.gtfs: reading GTFS feeds and counting departures per stop."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from qet_geo.errors import CRSError, InputFileError, QetGeoWarning, ValidationError
from qet_geo.inputs.gtfs import read_feed, route_type_mode, stop_departures

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
AJACCIO = DATA / "gtfs" / "ajaccio_muvitarra_gtfs.zip"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


# --------------------------------------------------------------------------------------------
# Real feed: Ajaccio (Muvitarra, 2020)


@pytest.fixture(scope="module")
def ajaccio_path() -> Path:
    if not AJACCIO.is_file():
        pytest.fail(f"Real test data missing: {AJACCIO} (see ../shared/data/PROVENANCE.md)")
    return AJACCIO


@pytest.fixture(scope="module")
def ajaccio_feed(ajaccio_path: Path):
    return read_feed(ajaccio_path)


@pytest.fixture(scope="module")
def ajaccio_weekday(ajaccio_feed) -> gpd.GeoDataFrame:
    return stop_departures(ajaccio_feed)


@pytest.fixture(scope="module")
def raw(ajaccio_path: Path) -> dict[str, pd.DataFrame]:
    """The feed's tables read straight from the zip with pandas, without gtfs-kit."""
    names = ("stops", "trips", "stop_times", "calendar", "calendar_dates", "routes")
    with zipfile.ZipFile(ajaccio_path) as zf:
        return {name: pd.read_csv(zf.open(f"{name}.txt"), dtype=str) for name in names}


def _raw_services(raw: dict[str, pd.DataFrame], day: dt.date) -> set[str]:
    """Services running on ``day`` by the GTFS rules, from the raw tables."""
    ymd = day.strftime("%Y%m%d")
    cal = raw["calendar"]
    runs = (
        (cal["start_date"] <= ymd)
        & (cal["end_date"] >= ymd)
        & (cal[WEEKDAYS[day.weekday()]] == "1")
    )
    services = set(cal.loc[runs, "service_id"])
    exc = raw["calendar_dates"].loc[lambda d: d["date"] == ymd]
    services |= set(exc.loc[exc["exception_type"] == "1", "service_id"])
    return services - set(exc.loc[exc["exception_type"] == "2", "service_id"])


def _raw_departures(raw: dict[str, pd.DataFrame], day: dt.date) -> pd.DataFrame:
    """Departures per stop in [07:00, 09:00) recomputed from the raw tables."""
    trips = raw["trips"].loc[lambda t: t["service_id"].isin(_raw_services(raw, day))]
    st = raw["stop_times"].merge(trips[["trip_id", "route_id"]], on="trip_id")
    hms = st["departure_time"].str.split(":", expand=True).astype(int)
    secs = hms[0] * 3600 + hms[1] * 60 + hms[2]
    seq = st["stop_sequence"].astype(int)
    not_last = seq < seq.groupby(st["trip_id"]).transform("max")
    kept = st.loc[(secs >= 7 * 3600) & (secs < 9 * 3600) & not_last & (st["pickup_type"] != "1")]
    return kept.groupby("stop_id").agg(
        departures=("trip_id", "size"), n_routes=("route_id", "nunique")
    )


def test_ajaccio_stops_are_in_lambert93_over_ajaccio(ajaccio_weekday: gpd.GeoDataFrame) -> None:
    gdf = ajaccio_weekday
    assert gdf.crs.to_epsg() == 2154
    assert len(gdf) == 267  # the boarding stops (location_type 0); the 154 stations are not rows
    assert gdf["stop_id"].is_unique
    left, bottom, right, top = gdf.total_bounds
    assert 1.16e6 < left < right < 1.19e6  # Ajaccio in Lambert-93
    assert 6.10e6 < bottom < top < 6.12e6
    assert {
        "stop_id",
        "stop_name",
        "departures",
        "departures_per_hour",
        "n_routes",
        "modes",
    } <= set(gdf.columns)


def test_ajaccio_counts_are_plausible(ajaccio_weekday: gpd.GeoDataFrame) -> None:
    gdf = ajaccio_weekday
    assert (gdf["departures_per_hour"] > 0).sum() >= 200
    assert (gdf["departures_per_hour"] == gdf["departures"] / 2).all()  # 2-hour window
    served = gdf["departures"] > 0
    assert (gdf.loc[served, "modes"] == "bus").all()  # every Muvitarra route is a bus route
    assert (gdf.loc[~served, "modes"] == "").all()
    assert (gdf.loc[served, "n_routes"] >= 1).all() and (gdf.loc[~served, "n_routes"] == 0).all()
    assert gdf["n_routes"].max() <= 13
    assert gdf["departures_per_hour"].max() == 15.5  # Place de Gaulle, the town-centre hub


def test_ajaccio_default_date_is_busiest_midweek_day(
    ajaccio_weekday: gpd.GeoDataFrame, raw: dict[str, pd.DataFrame]
) -> None:
    chosen = dt.date.fromisoformat(ajaccio_weekday.attrs["date"])
    assert chosen.weekday() in (1, 2, 3)
    assert dt.date(2020, 2, 1) <= chosen <= dt.date(2020, 12, 31)
    trips = raw["trips"]["service_id"]

    def n_trips(day: dt.date) -> int:
        return int(trips.isin(_raw_services(raw, day)).sum())

    midweek = [
        day
        for day in (dt.date(2020, 2, 1) + dt.timedelta(days=k) for k in range(335))
        if day.weekday() in (1, 2, 3)
    ]
    best = max(n_trips(day) for day in midweek)
    assert n_trips(chosen) == best
    assert chosen == min(day for day in midweek if n_trips(day) == best)


def test_ajaccio_counts_match_raw_recomputation(
    ajaccio_weekday: gpd.GeoDataFrame, raw: dict[str, pd.DataFrame]
) -> None:
    # The recomputation needs no overnight carry-over: no time of this feed reaches 31:00.
    assert raw["stop_times"]["departure_time"].max() < "31:00:00"
    day = dt.date.fromisoformat(ajaccio_weekday.attrs["date"])
    expected = _raw_departures(raw, day)
    got = ajaccio_weekday.set_index(ajaccio_weekday["stop_id"].astype(str))
    busiest = str(expected["departures"].idxmax())
    n_busiest = int(expected["departures"].max())
    assert n_busiest >= 20
    assert got.at[busiest, "departures"] == n_busiest
    assert got.at[busiest, "n_routes"] == expected.at[busiest, "n_routes"]
    served = got.loc[got["departures"] > 0]
    assert served["departures"].to_dict() == expected["departures"].to_dict()
    assert served["n_routes"].to_dict() == expected["n_routes"].to_dict()


def test_ajaccio_sunday_has_fewer_departures(
    ajaccio_feed, ajaccio_weekday: gpd.GeoDataFrame
) -> None:
    sunday = stop_departures(ajaccio_feed, date="2020-05-10")
    assert sunday.attrs["date"] == "2020-05-10"
    assert 0 < sunday["departures"].sum() < ajaccio_weekday["departures"].sum()
    assert (sunday["departures"] > 0).sum() < (ajaccio_weekday["departures"] > 0).sum()


def test_ajaccio_date_outside_service_period_raises(ajaccio_feed) -> None:
    with pytest.raises(ValidationError, match="2020-02-01 to 2020-12-31") as info:
        stop_departures(ajaccio_feed, date="20210615")
    assert "2020-02-01" in info.value.message_fr and "2020-12-31" in info.value.message_fr


def test_ajaccio_mask_keeps_stops_inside(ajaccio_feed, ajaccio_weekday: gpd.GeoDataFrame) -> None:
    hub = ajaccio_weekday.set_index("stop_id").geometry["20019"]  # Place de Gaulle
    area = hub.buffer(500)
    inside = stop_departures(ajaccio_feed, mask=area, date=ajaccio_weekday.attrs["date"])
    expected = ajaccio_weekday.loc[ajaccio_weekday.intersects(area)]
    assert 0 < len(inside) == len(expected) < len(ajaccio_weekday)
    assert set(inside["stop_id"]) == set(expected["stop_id"])
    # The same area given in WGS84 as a GeoSeries is reprojected.
    as_wgs84 = gpd.GeoSeries([area], crs=2154).to_crs(4326)
    assert set(stop_departures(ajaccio_feed, mask=as_wgs84)["stop_id"]) == set(inside["stop_id"])
    with pytest.raises(CRSError, match="EPSG:2154"):
        stop_departures(ajaccio_feed, mask=box(8.7, 41.9, 8.75, 41.95))


def test_ajaccio_station_aggregation_sums_platforms(
    ajaccio_feed, ajaccio_weekday: gpd.GeoDataFrame
) -> None:
    stations = stop_departures(ajaccio_feed, by="station", date=ajaccio_weekday.attrs["date"])
    assert len(stations) < len(ajaccio_weekday)
    assert stations["departures"].sum() == ajaccio_weekday["departures"].sum()
    platforms = ajaccio_weekday.loc[ajaccio_weekday["parent_station"] == "10019"]
    hub = stations.set_index("stop_id").loc["10019"]
    assert hub["departures"] == platforms["departures"].sum() and len(platforms) >= 2
    assert hub["n_routes"] >= platforms["n_routes"].max()


# --------------------------------------------------------------------------------------------
# Synthetic feed: 2 boarding stops under one station, 3 trips, January 2024 (1 Jan is a Monday)

STOPS = """stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station
S,Station,41.92,8.73,1,
A,Quai A,41.9201,8.7301,0,S
B,Quai B,41.9202,8.7302,0,S
"""
ROUTES = """route_id,route_short_name,route_type
R1,1,3
R2,T,0
"""
TRIPS = """route_id,service_id,trip_id
R1,WK,T1
R2,WK,T2
R1,WK,T3
"""
CALENDAR = (
    "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
    "WK,1,1,1,1,1,0,0,20240101,20240131\n"
)
CALENDAR_DATES = """service_id,date,exception_type
WK,20240102,2
"""


def _stop_times(pickup_t1_a: int = 0) -> str:
    # T1 ends at B at 07:20 (last stop: no departure); T2 leaves B one second before 09:00;
    # T3 is a night trip leaving A at 25:05:00, i.e. 01:05 the next morning.
    return f"""trip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type
T1,07:10:00,07:10:00,A,1,{pickup_t1_a}
T1,07:20:00,07:20:00,B,2,0
T2,08:59:59,08:59:59,B,1,0
T2,09:05:00,09:05:00,A,2,0
T3,25:05:00,25:05:00,A,1,0
T3,25:20:00,25:20:00,B,2,0
"""


def _write_feed(folder: Path, *, skip: tuple[str, ...] = (), pickup_t1_a: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "stops.txt": STOPS,
        "routes.txt": ROUTES,
        "trips.txt": TRIPS,
        "stop_times.txt": _stop_times(pickup_t1_a),
        "calendar.txt": CALENDAR,
        "calendar_dates.txt": CALENDAR_DATES,
    }
    for name, text in files.items():
        if name not in skip:
            (folder / name).write_text(text, encoding="utf-8")
    return folder


def _zip_feed(path: Path, *, skip: tuple[str, ...] = ()) -> Path:
    folder = _write_feed(path.with_suffix(""), skip=skip)
    with zipfile.ZipFile(path, "w") as zf:
        for file in folder.iterdir():
            zf.write(file, file.name)
    return path


def _counts(gdf: gpd.GeoDataFrame) -> dict[str, int]:
    return dict(zip(gdf["stop_id"].astype(str), gdf["departures"].astype(int), strict=True))


def test_synthetic_counts_exclude_last_stops_and_window_end(tmp_path: Path) -> None:
    gdf = stop_departures(_write_feed(tmp_path / "feed"), date="2024-01-09")
    assert _counts(gdf) == {"A": 1, "B": 1}  # T1 at A; T2 at B; T1's arrival at B is no departure
    assert gdf["departures_per_hour"].tolist() == [0.5, 0.5]
    assert gdf["n_routes"].tolist() == [1, 1]
    assert gdf["modes"].tolist() == ["bus", "tram"]
    assert gdf["parent_station"].tolist() == ["S", "S"]
    assert gdf.attrs == {
        "date": "2024-01-09",
        "start": "07:00:00",
        "end": "09:00:00",
        "window_h": 2.0,
        "by": "stop",
    }
    assert _counts(stop_departures(tmp_path / "feed", date="20240109", end="08:59:59")) == {
        "A": 1,
        "B": 0,
    }


def test_synthetic_times_past_midnight(tmp_path: Path) -> None:
    feed = read_feed(_write_feed(tmp_path / "feed"))
    # 25:05:00 on Tuesday's service is 01:05 on Wednesday; the last stop (25:20) is no departure.
    assert _counts(stop_departures(feed, date="2024-01-09", start="25:00", end="26:00")) == {
        "A": 1,
        "B": 0,
    }
    assert _counts(stop_departures(feed, date="2024-01-10", start="00:00", end="02:00")) == {
        "A": 1,
        "B": 0,
    }
    # Monday 1 January is the first service day: no trip of the day before runs into it.
    assert _counts(stop_departures(feed, date="2024-01-01", start="00:00", end="02:00")) == {
        "A": 0,
        "B": 0,
    }
    # A Saturday has no service of its own, but Friday's night trip still leaves at 01:05.
    with pytest.warns(QetGeoWarning, match="No trip"):
        saturday = stop_departures(feed, date="2024-01-06", start="00:00", end="02:00")
    assert _counts(saturday) == {"A": 1, "B": 0}


def test_synthetic_default_date_skips_cancelled_day(tmp_path: Path) -> None:
    feed = read_feed(_write_feed(tmp_path / "feed"))
    # Every Tuesday-Thursday runs 3 trips except Tuesday 2 January (cancelled in calendar_dates).
    assert stop_departures(feed).attrs["date"] == "2024-01-03"
    with pytest.warns(QetGeoWarning, match="No trip"):
        cancelled = stop_departures(feed, date="2024-01-02")
    assert cancelled["departures"].sum() == 0 and cancelled["modes"].tolist() == ["", ""]


def test_synthetic_no_pickup_is_no_departure(tmp_path: Path) -> None:
    feed = read_feed(_write_feed(tmp_path / "feed", pickup_t1_a=1))
    assert _counts(stop_departures(feed, date="2024-01-09")) == {"A": 0, "B": 1}


def test_synthetic_station_aggregation(tmp_path: Path) -> None:
    gdf = stop_departures(_write_feed(tmp_path / "feed"), date="2024-01-09", by="station")
    assert gdf["stop_id"].tolist() == ["S"]
    assert gdf["stop_name"].tolist() == ["Station"]
    assert gdf["departures"].tolist() == [2]
    assert gdf["n_routes"].tolist() == [2]
    assert gdf["modes"].tolist() == ["bus, tram"]
    station = gpd.GeoSeries([Point(8.73, 41.92)], crs=4326).to_crs(2154).iloc[0]
    assert gdf.geometry.iloc[0].distance(station) < 0.01
    assert "parent_station" not in gdf.columns


def test_synthetic_zip_reads_like_folder(tmp_path: Path) -> None:
    gdf = stop_departures(_zip_feed(tmp_path / "feed.zip"), date="2024-01-09")
    assert _counts(gdf) == {"A": 1, "B": 1}
    assert read_feed(tmp_path / "feed.zip").dist_units == "km"


def test_synthetic_date_outside_service_period(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="2024-01-01 to 2024-01-31"):
        stop_departures(_write_feed(tmp_path / "feed"), date=dt.date(2024, 2, 1))


# --------------------------------------------------------------------------------------------
# Bad inputs


def test_zip_without_stop_times_raises(tmp_path: Path) -> None:
    path = _zip_feed(tmp_path / "feed.zip", skip=("stop_times.txt",))
    with pytest.raises(InputFileError, match=r"stop_times\.txt") as info:
        read_feed(path)
    assert info.value.path == str(path)
    assert "A GTFS feed is a zip archive" in str(info.value)
    assert "stop_times.txt" in info.value.message_fr


def test_feed_without_any_calendar_raises(tmp_path: Path) -> None:
    folder = _write_feed(tmp_path / "feed", skip=("calendar.txt", "calendar_dates.txt"))
    with pytest.raises(InputFileError, match=r"calendar\.txt or calendar_dates\.txt"):
        stop_departures(folder)


def test_calendar_dates_alone_is_enough(tmp_path: Path) -> None:
    folder = _write_feed(tmp_path / "feed", skip=("calendar.txt",))
    (folder / "calendar_dates.txt").write_text(
        "service_id,date,exception_type\nWK,20240109,1\n", encoding="utf-8"
    )
    gdf = stop_departures(folder)
    assert gdf.attrs["date"] == "2024-01-09"
    assert _counts(gdf) == {"A": 1, "B": 1}


def test_missing_and_non_zip_paths_raise(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        read_feed(tmp_path / "nowhere.zip")
    not_zip = tmp_path / "feed.zip"
    not_zip.write_text("stop_id,stop_name\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="not a zip archive"):
        read_feed(not_zip)


def test_header_only_table_raises(tmp_path: Path) -> None:
    folder = _write_feed(tmp_path / "feed")
    (folder / "trips.txt").write_text("route_id,service_id,trip_id\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"trips\.txt"):
        read_feed(folder)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"start": "7h"}, "start='7h' is not a time"),
        ({"start": "09:00", "end": "08:00"}, "empty or longer than 24 hours"),
        ({"start": "00:00", "end": "24:00:01"}, "empty or longer than 24 hours"),
        ({"date": "2024-13-01"}, "is not a date"),
        ({"by": "line"}, "by='line'"),
    ],
)
def test_bad_options_raise(tmp_path: Path, options: dict[str, str], match: str) -> None:
    feed = read_feed(_write_feed(tmp_path / "feed"))
    with pytest.raises(ValidationError, match=match):
        stop_departures(feed, **options)  # type: ignore[arg-type]


def test_route_type_mode_names_basic_and_extended_types() -> None:
    assert [route_type_mode(t) for t in (0, 1, 2, 3, 7)] == [
        "tram",
        "metro",
        "rail",
        "bus",
        "funicular",
    ]
    assert [route_type_mode(t) for t in (102, 202, 401, 704, 900, 1200, 42)] == [
        "rail",
        "coach",
        "metro",
        "bus",
        "tram",
        "ferry",
        "other",
    ]


def test_unparseable_table_raises_input_file_error(tmp_path: Path) -> None:
    folder = _write_feed(tmp_path / "feed")
    text = (folder / "stop_times.txt").read_text(encoding="utf-8")
    (folder / "stop_times.txt").write_text(
        text.replace("T1,07:10:00,07:10:00,A,1", "T1,07:10:00,07:10:00,A,x"), encoding="utf-8"
    )
    with pytest.raises(InputFileError, match="could not be parsed"):
        read_feed(folder)


def test_data_problems_warn_and_are_not_counted(tmp_path: Path) -> None:
    folder = _write_feed(tmp_path / "feed")
    with (folder / "stop_times.txt").open("a", encoding="utf-8") as f:
        f.write("T9,07:30:00,07:30:00,A,1,0\nT9,07:40:00,07:40:00,B,2,0\n")  # T9 is no trip
    text = (folder / "stop_times.txt").read_text(encoding="utf-8")
    (folder / "stop_times.txt").write_text(text.replace("08:59:59", "8h59"), encoding="utf-8")
    with pytest.warns(QetGeoWarning) as record:
        gdf = stop_departures(folder, date="2024-01-09")
    assert _counts(gdf) == {"A": 1, "B": 0}
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    assert "2 rows of stop_times.txt refer to trip_ids absent from trips.txt" in messages[1]
    assert "1 times of stop_times.txt are not HH:MM:SS" in messages[0]
    assert all(w.filename == __file__ for w in record)  # points at the caller
    assert all(w.message.localized("fr") != str(w.message) for w in record)  # French given
