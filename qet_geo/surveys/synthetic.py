"""Labelled-synthetic SU answers on real buildings, for demos and method tests.

Real survey answers tied to homes are personal data and none are at hand (see the privacy rules).
:func:`synthesize_answers` makes *synthetic* SU answers instead, each clearly labelled: the
``synthetic`` column is True and every respondent id starts with ``SYN-``. They sit on the real
residential buildings of an OSM extract and are calibrated on real data, so that a map, a profile
analysis or a link analysis behaves as it would on a real survey.

How an answer is made
---------------------
1. **Home.** A residential building inside the territory, drawn with probability proportional to
   its population when a census was allocated to buildings, else to its floor area (footprint ×
   levels): big blocks of flats get more respondents. The answer's point is the building's
   representative point; ``cell_id`` its INSEE 200 m cell.
2. **Daily mobility** (``transportation_mode``), from the home's access
   (:func:`qet_geo.constraints.access.neighbourhood_access`, walking) by two nested logistic models
   (:class:`CarUseModel`)::

       logit P(car)                 = a + b_stop·x_stop − b_dep·x_dep + b_shop·x_shop
       logit P(transit | not car)   = c − g_stop·x_stop + g_dep·x_dep
       x_stop = ln(clip(transit_stop_m, 50, 3000) / 400)    (0 at 400 m; 3000 m when no stop)
       x_dep  = ln(1 + departures)                          (0 without a timetable)
       x_shop = clip(food_shop_min, 0, 30) / 10             (30 min when no shop in reach)

   where ``departures`` is the best stop's departures per hour within the transit radius
   (:data:`qet_geo.constraints.indicators.DEPARTURES`).

   The intercepts ``a`` and ``c`` are solved so that the expected shares over the drawn homes
   equal the target mode shares: by default those of ENTD 2008, the national travel survey
   (:data:`ENTD_MODE_SHARES`, main weekday mode of each person by urban category: B city centre,
   C suburb, I isolated town, R rural). So car use rises with the distance to transit and to food
   shops, as in the literature on the built environment and travel, and a later link analysis
   has a real, known signal to find.
3. **The other five usages** are a whole row drawn from the reference answers that share the
   respondent's mobility level (by default the 313 complete answers of NEAR's ``survey_0.tsv``,
   embedded as :data:`~qet_geo.analysis.reference.SURVEY0_PROFILES`): their joint
   structure is kept, and their marginals follow the reference up to the change of the mobility
   mix.
4. **Age band, gender, CSP.** ``(age_band, csp)`` from a joint table fitted by iterative
   proportional fitting to the age and CSP margins, starting from a plausibility table (no retired
   15-29-year-olds, students among the young, few workers over 75); gender independently. The
   margins default to :data:`DEFAULT_MARGINS` (rounded INSEE census shares for France, people aged
   15 or over) and can be those of the neighbourhood's IRIS
   (:func:`qet_geo.surveys.representativeness.census_margins`).

Everything is drawn from one ``numpy`` generator seeded by ``seed``: the same inputs and seed give
the same answers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.optimize import brentq

from qet_geo._validate import existing_file
from qet_geo.analysis.reference import reference_profiles
from qet_geo.constraints.indicators import DEPARTURES, nearest_m, nearest_min
from qet_geo.errors import EmptyDataError, InputFileError, ValidationError
from qet_geo.i18n import msg
from qet_geo.layers import NeighbourhoodLayers
from qet_geo.surveys.schema import AGE_BANDS, CSP_LABELS, USAGES

if TYPE_CHECKING:
    from qet_geo.surveys.answers import SurveyRead
    from qet_geo.surveys.tables import Source

__all__ = [
    "DEFAULT_MARGINS",
    "ENTD_MODE_SHARES",
    "SYNTHETIC_PREFIX",
    "URBAN_CATEGORIES",
    "CarUseModel",
    "entd_main_modes",
    "entd_mode_shares",
    "survey_synthetic_label",
    "synthesize_answers",
    "synthetic_label",
]

#: Prefix of every synthetic respondent id.
SYNTHETIC_PREFIX = "SYN-"

#: Values of a ``synthetic`` column that mark a row synthetic (``qet survey synthesize`` writes True).
_TRUE = frozenset({"true", "1", "yes", "oui", "vrai", "t", "y"})


def synthetic_label(
    ids: Iterable[object], flags: Iterable[object] | None = None, *, source: object = None
) -> bool:
    """Tell whether a file's answers are synthetic, and refuse a file that mixes both.

    A row is synthetic when its respondent id starts with :data:`SYNTHETIC_PREFIX` or its
    ``synthetic`` column is true (True, 1, "true", "oui"...), as :func:`synthesize_answers` and
    ``qet survey synthesize`` write them. Synthetic answers must never pass for a survey: the
    file is synthetic when every row is, real when none is, and refused otherwise (one
    synthetic row among real ones would shift the figures of a survey unseen, and a real answer
    among synthetic ones would be shown as a demonstration).

    Parameters
    ----------
    ids
        The respondent ids, one per row.
    flags
        The ``synthetic`` column, aligned with ``ids``, when the file has one.
    source
        The file, named in the error message.

    Returns
    -------
    bool
        True when every row is synthetic (False for no row).

    Raises
    ------
    ValidationError
        Some rows are synthetic and others are not.
    """
    names = [str(i) for i in ids]
    marked = [i.startswith(SYNTHETIC_PREFIX) for i in names]
    if flags is not None:
        values = list(flags)
        if len(values) == len(marked):
            marked = [m or _truthy(v) for m, v in zip(marked, values, strict=True)]
    n_synthetic = sum(marked)
    if 0 < n_synthetic < len(marked):
        raise ValidationError(
            msg(
                "{source} mélange {n_synthetic} réponses synthétiques (identifiants SYN-… ou "
                "colonne synthetic vraie, la première à la réponse n° {row}) et {n_real} "
                "réponses réelles : des réponses synthétiques ne doivent jamais passer pour une "
                "enquête. Mettez les réponses réelles et les réponses synthétiques dans des "
                "fichiers séparés, pour des diagnostics différents.",
                source=source if source is not None else msg("le fichier"),
                n_synthetic=n_synthetic,
                n_real=len(marked) - n_synthetic,
                row=marked.index(True) + 1,
            )
        )
    return bool(marked) and n_synthetic == len(marked)


def survey_synthetic_label(read: SurveyRead, source: Source, *, name: object = None) -> bool:
    """Tell whether the answers of a survey file are synthetic (:func:`synthetic_label`).

    The survey readers keep the respondent ids but leave a ``synthetic`` column aside (it is not
    an answer): the column is read again from ``source`` when the file has one. Rejected rows
    are not counted.

    Parameters
    ----------
    read
        What :func:`qet_geo.surveys.su.read_su` read from ``source``.
    source
        The same file: its path or a binary file object.
    name
        The file, named in the error message.

    Raises
    ------
    ValidationError
        The file mixes synthetic and real answers.
    """
    from qet_geo.surveys.tables import load_table

    kept = (read.report["status"] != "rejected").to_numpy(dtype=bool)
    ids = read.report["respondent_id"].fillna("").astype(str).to_numpy()[kept]
    flags = None
    if any(h.strip().casefold() == "synthetic" for h in read.ignored_columns):
        if hasattr(source, "seek"):
            source.seek(0)
        table = load_table(source, sep=read.sep, encoding=read.encoding, sheet=None)
        header = [h.strip().casefold() for h in table.header]
        if "synthetic" in header and len(table.rows) == len(kept):
            flags = np.asarray(table.column(header.index("synthetic")), dtype=object)[kept]
    return synthetic_label(ids, flags, source=name)


def _truthy(value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    if isinstance(value, int | np.integer | float | np.floating):
        return bool(value)
    return str(value).strip().casefold() in _TRUE


#: ENTD 2008 urban categories of communes: city centre, suburb, isolated town, rural.
URBAN_CATEGORIES: Mapping[str, str] = {
    "B": "ville-centre (city centre)",
    "C": "banlieue (suburb)",
    "I": "ville isolée (isolated town)",
    "R": "rural",
}

#: Share of people whose most frequent weekday mode is active (level 1), public transport (2) or a
#: private car or motorbike (3), by urban category: ENTD 2008 short trips, weighted by ``pondki``
#: (:func:`entd_mode_shares` recomputes it from the file).
ENTD_MODE_SHARES: Mapping[str, Mapping[int, float]] = {
    "B": {1: 0.200, 2: 0.134, 3: 0.666},
    "C": {1: 0.309, 2: 0.126, 3: 0.565},
    "I": {1: 0.208, 2: 0.053, 3: 0.739},
    "R": {1: 0.105, 2: 0.062, 3: 0.833},
}

#: Default socio-demographic margins (shares of people aged 15 or over, France): rounded from
#: INSEE's 2019 census (RP 2019). Approximate by design: pass the neighbourhood's own margins.
DEFAULT_MARGINS: Mapping[str, Mapping[str, float]] = {
    "age_band": {"15-29": 0.21, "30-44": 0.22, "45-59": 0.24, "60-74": 0.21, "75+": 0.12},
    "gender": {"F": 0.52, "M": 0.48},
    "csp": {
        "CS1": 0.008,
        "CS2": 0.035,
        "CS3": 0.097,
        "CS4": 0.142,
        "CS5": 0.158,
        "CS6": 0.119,
        "CS7": 0.270,
        "CS8": 0.171,
    },
}

# Plausibility of each CSP within an age band (relative propensities, rows AGE_BANDS, columns
# CS1..CS8), the seed of the joint table: no retired people under 30, students (CS8) mostly
# young, hardly any workers over 75, pensioners (CS7) from 55 on.
_AGE_CSP_SEED = np.array(
    [
        [0.3, 0.5, 1.0, 1.5, 2.0, 2.0, 0.0, 4.0],
        [1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 0.0, 0.8],
        [1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 0.3, 0.8],
        [0.3, 0.3, 0.4, 0.4, 0.4, 0.4, 8.0, 1.0],
        [0.0, 0.02, 0.02, 0.02, 0.02, 0.02, 10.0, 1.0],
    ]
)

# ENTD 2008 mode codes (mode_id "g.mm") → SU mobility level; others (plane 7.x, boat 8.x) ignored.
# 1.x on foot, 2.20 bicycle → active; 2.22-2.29 motorbikes, 3.x cars, 4.40 taxi, 4.41 special
# transport, 9.90 other → private motorised (the SU's "voiture individuelle"); 4.42-4.43 employer
# and school buses, 5.x buses, coaches, tram, metro, RER, TER, 6.x trains → public transport.
_ACTIVE_PREFIXES = ("1.",)
_TRANSIT_PREFIXES = ("4.42", "4.43", "5.", "6.")
_IGNORED_PREFIXES = ("7.", "8.")

# the access columns the mobility model reads, besides DEPARTURES
_STOP_M = nearest_m("transit_stop")
_SHOP_MIN = nearest_min("food_shop")


@dataclass(frozen=True)
class CarUseModel:
    """Coefficients of the daily-mobility model of :func:`synthesize_answers` (per unit of x).

    Attributes
    ----------
    stop
        Car logit per unit of ``x_stop`` (log distance to the nearest transit stop): 1.0 means a
        home 2.7 times farther from a stop has odds of car use 2.7 times higher.
    departures
        Car logit decrease per unit of ``x_dep`` (log of 1 + departures per hour
        within the transit radius).
    shop
        Car logit per 10 minutes of walk to the nearest food shop.
    transit_stop
        Transit-versus-active logit decrease per unit of ``x_stop``.
    transit_departures
        Transit-versus-active logit increase per unit of ``x_dep``.
    """

    stop: float = 1.0
    departures: float = 0.5
    shop: float = 0.8
    transit_stop: float = 1.0
    transit_departures: float = 0.5


# --------------------------------------------------------------------------------------------------
# Calibration data
# --------------------------------------------------------------------------------------------------


def entd_main_modes(path: str | PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Return each ENTD 2008 person's main weekday mode, urban category, weight and car distances.

    Parameters
    ----------
    path
        The ENTD 2008 short-trips table (``short_dist_trips.parquet``: ``individual_id``,
        ``weekday``, ``city_category``, ``mode_id``, ``distance`` in km, ``pondki``), or the frame.

    Returns
    -------
    pandas.DataFrame
        One row per person with at least one weekday trip: ``city_category``, ``weight``
        (``pondki``), ``level`` (1 active, 2 public transport, 3 car: the group of most weekday
        trips, ties to the longest distance), ``car_km_weekday`` (car km per surveyed weekday) and
        ``car_km_weekend`` (per surveyed weekend day; NaN when no weekend day was surveyed).
    """
    trips = _read_entd(path)
    group = trips["mode_id"].astype(str).map(_entd_level)
    trips = trips.assign(level=group).dropna(subset=["level"])
    week = trips[trips["weekday"].astype(bool)]
    counts = week.groupby(["individual_id", "level"]).size().unstack(fill_value=0)
    dist = week.groupby(["individual_id", "level"])["distance"].sum().unstack(fill_value=0)
    # most trips first, then the longest distance (a distance never outweighs one trip)
    score = counts + dist.reindex_like(counts).fillna(0.0) / (1.0 + dist.to_numpy().max())
    main = score.idxmax(axis=1).astype(int)
    people = trips.groupby("individual_id").agg(
        city_category=("city_category", "first"), weight=("pondki", "first")
    )
    out = people.join(main.rename("level"), how="inner")
    days = week.groupby("individual_id")["day_id"].nunique()
    car_week = week[week["level"] == 3].groupby("individual_id")["distance"].sum()
    out["car_km_weekday"] = car_week.reindex(out.index, fill_value=0.0) / days.reindex(out.index)
    weekend = trips[~trips["weekday"].astype(bool)]
    wdays = weekend.groupby("individual_id")["day_id"].nunique()
    car_we = weekend[weekend["level"] == 3].groupby("individual_id")["distance"].sum()
    out["car_km_weekend"] = car_we.reindex(wdays.index, fill_value=0.0) / wdays
    return out


def entd_mode_shares(path: str | PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Return the weighted shares of the SU mobility levels by ENTD urban category.

    Parameters
    ----------
    path
        The ENTD 2008 short-trips table or frame (see :func:`entd_main_modes`), or the output of
        :func:`entd_main_modes`.

    Returns
    -------
    pandas.DataFrame
        Index: urban categories (B, C, I, R); columns: levels 1, 2, 3; rows sum to 1.
    """
    people = (
        path
        if isinstance(path, pd.DataFrame) and "level" in path.columns
        else entd_main_modes(path)
    )
    table = people.groupby(["city_category", "level"])["weight"].sum().unstack(fill_value=0)
    table = table.reindex(columns=[1, 2, 3], fill_value=0.0)
    return table.div(table.sum(axis=1), axis=0)


def _entd_level(mode_id: str) -> float:
    if mode_id.startswith(_IGNORED_PREFIXES):
        return np.nan
    if mode_id.startswith(_ACTIVE_PREFIXES) or mode_id == "2.20":
        return 1.0
    if mode_id.startswith(_TRANSIT_PREFIXES):
        return 2.0
    return 3.0


def _read_entd(path: str | PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    if isinstance(path, pd.DataFrame):
        frame = path
    else:
        file = Path(path)
        existing_file(file, what=msg("Fichier ENTD"), file_only=True)
        try:
            frame = pd.read_parquet(file)
        except (OSError, ValueError) as err:
            raise InputFileError(
                msg("{file} n'est pas une table Parquet lisible : {err}.", file=file, err=err),
                path=file,
            ) from err
    if "day_id" not in frame.columns and frame.index.name == "day_id":
        frame = frame.reset_index()
    need = ["day_id", "individual_id", "weekday", "city_category", "mode_id", "distance", "pondki"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise ValidationError(
            msg(
                "La table ENTD n'a pas les colonnes {missing}.",
                missing=", ".join(missing),
            )
        )
    return frame


# --------------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------------


def synthesize_answers(
    layers: NeighbourhoodLayers,
    n: int,
    *,
    seed: int | None = 0,
    access: pd.DataFrame | None = None,
    urban_category: str = "B",
    mode_shares: Literal["entd", "reference"] | Mapping[int, float] = "entd",
    reference: pd.DataFrame | None = None,
    margins: Mapping[str, pd.Series | Mapping[str, float]] | None = None,
    model: CarUseModel | None = None,
) -> gpd.GeoDataFrame:
    """Generate labelled-synthetic SU answers on the residential buildings of a neighbourhood.

    Parameters
    ----------
    layers
        The neighbourhood (:func:`qet_geo.layers.build_layers`): its residential buildings inside
        the territory are the homes.
    n
        Number of synthetic respondents (1 to 1 000 000).
    seed
        Seed of the random generator; the same seed gives the same answers. None draws a fresh
        seed (not reproducible).
    access
        Walking access per home (:func:`qet_geo.constraints.access.neighbourhood_access` of ``layers``),
        computed when None.
    urban_category
        "B" (city centre), "C" (suburb), "I" (isolated town) or "R" (rural): the ENTD 2008 mode
        shares to calibrate on (:data:`ENTD_MODE_SHARES`).
    mode_shares
        "entd" (by ``urban_category``), "reference" (the mobility shares of the reference
        answers) or a mapping level → share.
    reference
        Reference SU answers whose profiles are resampled; NEAR's ``survey_0.tsv``
        (:data:`~qet_geo.analysis.reference.SURVEY0_PROFILES`) by default.
    margins
        Socio-demographic margins, "age_band", "gender" and "csp" → category → count or share;
        missing variables take :data:`DEFAULT_MARGINS`.
    model
        Coefficients of the mobility model; :class:`CarUseModel` defaults.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per synthetic respondent, indexed by ``respondent_id`` (``SYN-000001`` …): the six
        usages (``Int8`` levels), ``age_band``, ``gender``, ``csp``, ``building_key`` (the OSM key
        of the home), ``cell_id`` (INSEE 200 m cell), ``synthetic`` (always True) and the
        building's point (EPSG:2154). ``attrs`` records the seed, the target mode shares, the
        model and ``synthetic=True``.

    Raises
    ------
    ValidationError
        Bad ``n``, urban category, shares or margins; reference answers lacking a mobility level.
    EmptyDataError
        No residential building in the territory.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= 1_000_000:
        raise ValidationError(
            msg("n doit être un nombre entier de répondants entre 1 et 1 000 000, reçu {n!r}.", n=n)
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise ValidationError(
            msg("seed doit être un nombre entier ou None, reçu {seed!r}.", seed=seed)
        )
    if urban_category not in URBAN_CATEGORIES:
        raise ValidationError(
            msg(
                "Catégorie urbaine inconnue {urban_category!r} : utilisez B (ville-centre), C "
                "(banlieue), I (ville isolée) ou R (rural).",
                urban_category=urban_category,
            )
        )
    if not isinstance(layers, NeighbourhoodLayers):
        raise ValidationError(msg("layers doit être le résultat de qet_geo.layers.build_layers."))
    profiles = reference_profiles(reference)
    targets = _target_shares(mode_shares, urban_category, profiles)
    joint, genders = _demography(margins)
    if access is None:
        from qet_geo.constraints.access import neighbourhood_access

        access = neighbourhood_access(layers, mode="walk")
    homes = _homes(layers, access)
    return _synthesize(
        homes,
        int(n),
        rng=np.random.default_rng(seed),
        targets=targets,
        profiles=profiles,
        joint=joint,
        genders=genders,
        model=model or CarUseModel(),
        attrs={
            "synthetic": True,
            "seed": seed,
            "urban_category": urban_category,
            "mode_shares": {int(k): float(v) for k, v in targets.items()},
            "model": asdict(model or CarUseModel()),
            "reference": "survey_0.tsv (NEAR)" if reference is None else "user reference",
        },
    )


def _target_shares(
    mode_shares: Literal["entd", "reference"] | Mapping[int, float],
    urban_category: str,
    profiles: pd.DataFrame,
) -> dict[int, float]:
    if isinstance(mode_shares, str):
        if mode_shares == "entd":
            raw: Mapping[int, float] = ENTD_MODE_SHARES[urban_category]
        elif mode_shares == "reference":
            counts = profiles["transportation_mode"].astype(int).value_counts()
            raw = {lv: float(counts.get(lv, 0)) for lv in (1, 2, 3)}
        else:
            raise ValidationError(
                msg(
                    "mode_shares={mode_shares!r} : utilisez 'entd', 'reference' ou un dictionnaire "
                    "niveau → part.",
                    mode_shares=mode_shares,
                )
            )
    else:
        raw = mode_shares
    try:
        shares = {lv: float(raw.get(lv, 0.0)) for lv in (1, 2, 3)}
    except (TypeError, ValueError) as err:
        raise ValidationError(
            msg("mode_shares doit associer un nombre aux niveaux 1, 2, 3.")
        ) from err
    total = sum(shares.values())
    if any(v < 0 or math.isnan(v) for v in shares.values()) or total <= 0 or set(raw) - {1, 2, 3}:
        raise ValidationError(
            msg(
                "mode_shares doit donner des parts positives ou nulles aux seuls niveaux 1, 2, "
                "3, reçu {raw!r}.",
                raw=raw,
            )
        )
    shares = {lv: v / total for lv, v in shares.items()}
    present = set(profiles["transportation_mode"].astype(int))
    lacking = [lv for lv, v in shares.items() if v > 0 and lv not in present]
    if lacking:
        raise ValidationError(
            msg(
                "Les réponses de référence n'ont aucun répondant au(x) niveau(x) de mobilité "
                "{lacking} : leurs autres usages ne peuvent pas être tirés. Utilisez une enquête "
                "de référence plus grande.",
                lacking=lacking,
            )
        )
    return shares


def _demography(
    margins: Mapping[str, pd.Series | Mapping[str, float]] | None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Return the (age band × CSP) joint shares and the gender shares."""
    given = dict(margins or {})
    unknown = set(given) - set(DEFAULT_MARGINS)
    if unknown:
        raise ValidationError(
            msg(
                "Marges inconnues {unknown} : utilisez age_band, gender et csp.",
                unknown=", ".join(sorted(unknown)),
            )
        )
    shares: dict[str, pd.Series] = {}
    expected = {"age_band": list(AGE_BANDS), "gender": ["F", "M"], "csp": list(CSP_LABELS)}
    for variable, default in DEFAULT_MARGINS.items():
        raw = given.get(variable, default)
        series = pd.Series(raw if isinstance(raw, pd.Series) else dict(raw), dtype=float)
        series.index = series.index.astype(str)
        extra = set(series.index) - set(expected[variable])
        if extra or series.isna().any() or (series < 0).any() or series.sum() <= 0:
            raise ValidationError(
                msg(
                    "margins[{variable!r}] doit donner des effectifs ou parts positifs ou nuls à "
                    "{expected}.",
                    variable=variable,
                    expected=", ".join(expected[variable]),
                )
            )
        series = series.reindex(expected[variable], fill_value=0.0)
        shares[variable] = series / series.sum()
    joint = _fit_joint(_AGE_CSP_SEED, shares["age_band"].to_numpy(), shares["csp"].to_numpy())
    frame = pd.DataFrame(joint, index=list(AGE_BANDS), columns=list(CSP_LABELS))
    return frame, shares["gender"]


def _fit_joint(seed: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Fit a table to row and column margins by iterative proportional fitting."""
    # a tiny floor keeps the fit feasible when margins ask for what the seed rules out
    table = seed.astype(float) + 1e-12
    for _ in range(500):
        r = table.sum(axis=1)
        table *= np.divide(rows, r, out=np.zeros_like(rows), where=r > 0)[:, None]
        c = table.sum(axis=0)
        table *= np.divide(cols, c, out=np.zeros_like(cols), where=c > 0)[None, :]
        if np.abs(table.sum(axis=1) - rows).max() < 1e-10:
            break
    return table / table.sum()


def _homes(layers: NeighbourhoodLayers, access: pd.DataFrame) -> gpd.GeoDataFrame:
    buildings = layers.layers.get("buildings")
    if buildings is None or buildings.empty:
        raise EmptyDataError(
            msg(
                "Le quartier n'a pas de couche de bâtiments : vérifiez que l'extrait OSM le couvre."
            )
        )
    if not isinstance(access, gpd.GeoDataFrame) or _STOP_M not in access.columns:
        raise ValidationError(
            msg(
                "access doit être le résultat de qet_geo.constraints.access.neighbourhood_access "
                "(logements = bâtiments)."
            )
        )
    residential = buildings[buildings["residential"].astype(bool)]
    keys = access.index.intersection(residential.index)
    if keys.empty:
        raise EmptyDataError(
            msg(
                "Aucun bâtiment résidentiel du territoire n'a d'indicateurs d'accès : vérifiez "
                "que l'accès a été calculé sur ces couches avec les bâtiments comme logements."
            )
        )
    res = residential.loc[keys]
    weight = pd.Series(np.nan, index=keys)
    if "population" in res.columns and res["population"].fillna(0).sum() > 0:
        weight = res["population"].astype(float)
    if weight.isna().all() or weight.fillna(0).sum() <= 0:
        area = res.get("floor_area_m2", res.get("footprint_m2"))
        weight = area.astype(float) if area is not None else pd.Series(1.0, index=keys, dtype=float)
    weight = weight.fillna(0.0).clip(lower=0.0)
    if weight.sum() <= 0:
        weight = pd.Series(1.0, index=keys)
    acc = access.loc[keys]
    homes = gpd.GeoDataFrame(
        {
            "weight": weight.to_numpy(float),
            _STOP_M: acc[_STOP_M].to_numpy(float),
            DEPARTURES: acc.get(DEPARTURES, pd.Series(np.nan, index=keys)).to_numpy(float),
            _SHOP_MIN: acc.get(_SHOP_MIN, pd.Series(np.nan, index=keys)).to_numpy(float),
        },
        geometry=acc.geometry.to_numpy(),
        crs=acc.crs,
        index=pd.Index(keys, name="building_key"),
    )
    return homes


def _features(homes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    stop = np.where(np.isnan(homes[_STOP_M]), 3000.0, homes[_STOP_M])
    x_stop = np.log(np.clip(stop, 50.0, 3000.0) / 400.0)
    dep = np.nan_to_num(homes[DEPARTURES].to_numpy(float), nan=0.0)
    x_dep = np.log1p(np.clip(dep, 0.0, None))
    shop = np.where(np.isnan(homes[_SHOP_MIN]), 30.0, homes[_SHOP_MIN])
    x_shop = np.clip(shop, 0.0, 30.0) / 10.0
    return x_stop, x_dep, x_shop


def _expit(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _calibrated(linear: np.ndarray, weights: np.ndarray, target: float) -> tuple[np.ndarray, float]:
    """Solve the intercept so that the weighted mean probability equals ``target``."""
    if target <= 0.0:
        return np.zeros_like(linear), -math.inf
    if target >= 1.0:
        return np.ones_like(linear), math.inf
    w = weights / weights.sum()

    def gap(a: float) -> float:
        return float(np.sum(w * _expit(a + linear)) - target)

    lo, hi = -40.0 - linear.max(), 40.0 - linear.min()
    a = float(brentq(gap, lo, hi, xtol=1e-12))
    return _expit(a + linear), a


def _mode_probabilities(
    homes: pd.DataFrame, targets: Mapping[int, float], model: CarUseModel
) -> tuple[np.ndarray, dict[str, float]]:
    x_stop, x_dep, x_shop = _features(homes)
    w = homes["weight"].to_numpy(float)
    car_lin = model.stop * x_stop - model.departures * x_dep + model.shop * x_shop
    p_car, a = _calibrated(car_lin, w, targets[3])
    rest = 1.0 - targets[3]
    share_transit = targets[2] / rest if rest > 0 else 0.0
    transit_lin = -model.transit_stop * x_stop + model.transit_departures * x_dep
    # the transit share is among the people who do not drive, so weight by (1 - P(car))
    p_transit_rest, c = _calibrated(transit_lin, w * (1.0 - p_car) + 1e-300, share_transit)
    probs = np.column_stack(
        [(1.0 - p_car) * (1.0 - p_transit_rest), (1.0 - p_car) * p_transit_rest, p_car]
    )
    probs = np.clip(probs, 0.0, 1.0)
    probs /= probs.sum(axis=1, keepdims=True)
    return probs, {"car_intercept": a, "transit_intercept": c}


def _synthesize(
    homes: gpd.GeoDataFrame,
    n: int,
    *,
    rng: np.random.Generator,
    targets: Mapping[int, float],
    profiles: pd.DataFrame,
    joint: pd.DataFrame,
    genders: pd.Series,
    model: CarUseModel,
    attrs: dict[str, object],
) -> gpd.GeoDataFrame:
    from qet_geo.inputs.census import point_to_cell_id

    probs, intercepts = _mode_probabilities(homes, targets, model)
    w = homes["weight"].to_numpy(float)
    at = rng.choice(len(homes), size=n, p=w / w.sum())
    # inverse-CDF draw of the mobility level at each respondent's home
    cum = np.cumsum(probs[at], axis=1)
    u = rng.random(n)
    mobility = 1 + (u[:, None] > cum[:, :2]).sum(axis=1)
    levels = np.empty((n, len(USAGES)), dtype=np.int8)
    pool = profiles.astype(int).to_numpy()
    mob_col = list(USAGES).index("transportation_mode")
    for level in (1, 2, 3):
        who = np.flatnonzero(mobility == level)
        if not len(who):
            continue
        rows = np.flatnonzero(pool[:, mob_col] == level)
        levels[who] = pool[rng.choice(rows, size=len(who))]
    cells = joint.to_numpy().ravel()
    pick = rng.choice(len(cells), size=n, p=cells / cells.sum())
    age = np.asarray(joint.index)[pick // joint.shape[1]]
    csp = np.asarray(joint.columns)[pick % joint.shape[1]]
    gender = rng.choice(np.asarray(genders.index), size=n, p=genders.to_numpy(float))
    ids = pd.Index([f"{SYNTHETIC_PREFIX}{i:06d}" for i in range(1, n + 1)], name="respondent_id")
    frame = pd.DataFrame(levels, columns=list(USAGES), index=ids).astype("Int8")
    frame["age_band"] = pd.array(age, dtype="string")
    frame["gender"] = pd.array(gender, dtype="string")
    frame["csp"] = pd.array(csp, dtype="string")
    frame["building_key"] = pd.array(homes.index.to_numpy()[at], dtype="string")
    points = gpd.GeoSeries(homes.geometry.to_numpy()[at], crs=homes.crs, index=ids)
    frame["cell_id"] = pd.array(point_to_cell_id(points).to_numpy(), dtype="string")
    frame["synthetic"] = True
    out = gpd.GeoDataFrame(frame, geometry=points, crs=homes.crs)
    out.attrs.update(attrs)
    out.attrs["intercepts"] = intercepts
    return out
