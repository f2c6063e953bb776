"""Labelled-synthetic MdV/EdV and NosGestesClimat answers, for demos and method tests.

No real MdV/EdV ("modes et espaces de vie") or NosGestesClimat (NGC) answers tied to homes are at
hand (they are personal data). These generators make synthetic ones instead, labelled as
:func:`qet_geo.surveys.synthetic.synthesize_answers` labels its SU answers: every respondent id
starts with ``SYN-`` and a ``synthetic`` column is True, so that the readers, the store and the
service refuse to mix them with real answers.

:func:`synthetic_mdv` — MdV/EdV answers on real buildings
    Homes are the rows of a per-home access table
    (:func:`qet_geo.constraints.access.neighbourhood_access`, indexed by building key):

    1. **Background answers** (``n``): homes drawn uniformly; every yes/no question answered yes /
       no / je ne sais pas with probabilities 0.5, 0.35, 0.15; food and leisure trips on foot, by
       bike or by car (0.5, 0.2, 0.3) with a time band drawn uniformly; work by car, transit or on
       foot; reasons drawn among access and other reasons. They say nothing on purpose: the
       published shares mix every category.
    2. **Planted "l'offre manque"** (``n_planted`` answers): homes more than
       :data:`~qet_geo.analysis.perceived.POOR_MIN` minutes on foot from any food shop (or
       without one in reach) answer that food shopping is hard: on foot, 30 to 45 minutes.
    3. **Planted "existe mais pas connue"** (``n_planted`` answers): homes within 3 minutes of a
       food shop answer the same.

    A method test plants a food desert in the layers first (``tests/analysis/test_perceived.py``)
    so that both planted groups exist; ``n_planted=0`` leaves them out.

:func:`synthetic_ngc` — NGC results of an SU file's synthetic respondents
    One row per synthetic SU respondent, under the same ``SYN-`` id, with NGC's per-category
    results in kgCO2e a year, consistent with the respondent's SU answers through the library's
    NGC scale (:func:`qet_geo.analysis.footprint.read_ngc_scale`, NosGestesClimat 4.10.2):

    - each usage's scope at the respondent's level replaces its value in NGC's default situation
      (:data:`NGC_DEFAULTS`, the "average French" evaluated with the same model): a category is
      its default plus the changes of its usages (meat → alimentation; daily mobility and
      flights → transport; heating → logement; digital and purchases → divers);
    - the sub-categories are the usages' scopes, as
      :data:`qet_geo.analysis.footprint.NGC_USAGE_SOURCES` reads them back: ``transport_avion``
      the flights, ``transport_voiture`` the daily mobility of a car user (level 3, else 0),
      ``transport_commun`` that of the others (levels 1 and 2), ``logement_chauffage`` the
      heating (NGC's heating and electricity), ``divers_numerique`` the digital use,
      ``divers_textile`` the purchases (textile, furniture, appliances);
    - the rest of each category (breakfasts, trains, the home's construction...) and the
      services sociétaux vary between respondents by a factor drawn from a log-normal law of
      mean 1 (``spread``), so that the results are not a copy of the scale while
      ``ngc_usage_footprints(results)`` gives back ``su_footprints(answers, scale="ngc")`` for
      every answered usage but meat (whose NGC column is the whole of alimentation). An
      unanswered usage keeps NGC's default;
    - ``total`` (NGC's ``bilan``) is the sum of the five categories.

Both are deterministic for a given seed.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from qet_geo.errors import ValidationError
from qet_geo.i18n import msg
from qet_geo.surveys.synthetic import SYNTHETIC_PREFIX, synthetic_label

if TYPE_CHECKING:
    from qet_geo.surveys.tables import Source

__all__ = [
    "NGC_DEFAULTS",
    "NGC_HEADERS",
    "synthetic_mdv",
    "synthetic_ngc",
]

#: NGC's default situation (NosGestesClimat 4.10.2 evaluated by publicodes 1.10.3 with no answer,
#: as ``scripts/ngc/evaluate.mjs`` evaluates the scale), kgCO2e per person and year: its five
#: categories. Their sum is the default ``bilan`` of the scale's header (8 287.2).
NGC_DEFAULTS: Mapping[str, float] = {
    "alimentation": 2045.8,
    "transport": 1997.2,
    "logement": 1659.2,
    "divers": 1186.7,
    "services_societaux": 1398.2,
}

#: The NGC category of each SU usage (whose scope the scale evaluates).
_USAGE_CATEGORY: Mapping[str, str] = {
    "meat_frequency": "alimentation",
    "transportation_mode": "transport",
    "air_travel_frequency": "transport",
    "heat_source": "logement",
    "digital_intensity": "divers",
    "purchasing_strategy": "divers",
}

#: Headers of the NGC file :func:`synthetic_ngc` writes: NGC's rule names, in kgCO2e a year.
NGC_HEADERS: Mapping[str, str] = {
    "total": "bilan",
    "alimentation": "alimentation",
    "transport": "transport",
    "logement": "logement",
    "divers": "divers",
    "services_societaux": "services sociétaux",
    "transport_avion": "transport . avion",
    "transport_voiture": "transport . voiture",
    "transport_commun": "transport . transports commun",
    "logement_chauffage": "logement . chauffage",
    "divers_numerique": "divers . numérique",
    "divers_textile": "divers . textile",
}

_YES_NO = ["Oui", "Non", "Je ne sais pas"]
_TIME_BANDS = [
    "less_than_10_min",
    "between_10_and_20_min",
    "between_20_and_30_min",
    "between_30_and_45_min",
]
_REASONS = [
    "Pas d'offre à proximité",
    "Prix",
    "Je ne connais pas les alternatives",
    "Pas de transport en commun à proximité",
]


# --------------------------------------------------------------------------------------------------
# MdV/EdV


def synthetic_mdv(
    access: pd.DataFrame,
    *,
    n: int = 360,
    n_planted: int = 30,
    seed: int = 3,
    prefix: str = SYNTHETIC_PREFIX,
) -> pd.DataFrame:
    """Make labelled-synthetic MdV/EdV answers on the homes of an access table.

    Parameters
    ----------
    access
        Walking access per home (:func:`qet_geo.constraints.access.neighbourhood_access`,
        indexed by building key, with the food-shop minutes). When it is a GeoDataFrame of
        points, each answer also gets its home's ``lon``/``lat`` (WGS84, 6 decimals) and
        ``cell_id`` (INSEE 200 m cell): a reader without the buildings still places it.
    n
        Background answers (0 to 100 000).
    n_planted
        Answers of each planted group (see the module docstring), 0 to leave them out.
    seed
        Seed of the random generator: the same table and seed give the same answers.
    prefix
        Start of the respondent ids (``prefix`` then 5 digits); must start with ``SYN-``.

    Returns
    -------
    pandas.DataFrame
        One row per answer: ``respondent_id``, ``building_key``, the MdV questions in the
        export's spelling (:func:`qet_geo.surveys.mdv.read_mdv` reads them), ``plant``
        ("background", "missing" or "unknown": what the row was made to say; not an answer, drop
        it before writing a file a reader should see), ``synthetic`` (True), and ``lon``,
        ``lat``, ``cell_id`` for a table of points.

    Raises
    ------
    ValidationError
        Bad counts or prefix, no home in ``access``, no food-shop column, or fewer than 10 homes
        far from (or near) a food shop for the planted groups.
    """
    from qet_geo.analysis.perceived import POOR_MIN, QUESTIONS
    from qet_geo.constraints.indicators import nearest_min

    for name, value in (("n", n), ("n_planted", n_planted)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000:
            raise ValidationError(
                msg(
                    "{name} doit être un nombre entier de réponses de 0 à 100 000, reçu {value!r}.",
                    name=name,
                    value=value,
                )
            )
    if not isinstance(prefix, str) or not prefix.startswith(SYNTHETIC_PREFIX):
        raise ValidationError(
            msg("prefix doit commencer par {syn} (réponses synthétiques).", syn=SYNTHETIC_PREFIX)
        )
    food = nearest_min("food_shop")
    if not isinstance(access, pd.DataFrame) or access.empty or food not in access.columns:
        raise ValidationError(
            msg(
                "access doit être la table d'accès par logement de neighbourhood_access (avec "
                "la colonne {food}), non vide.",
                food=food,
            )
        )
    rng = np.random.default_rng(seed)
    homes = access.index.astype(str).to_numpy()
    yes_no = [key for key, q in QUESTIONS.items() if q.kind == "yes_no"]

    def background(home: str) -> dict[str, object]:
        row: dict[str, object] = {"building_key": home}
        for key in yes_no:
            row[key] = rng.choice(_YES_NO, p=[0.5, 0.35, 0.15])
        for purpose in ("food", "leisure"):
            row[f"{purpose}_mode"] = rng.choice(
                ["walking", "personal_bicycle", "car"], p=[0.5, 0.2, 0.3]
            )
            row[f"{purpose}_time_band"] = rng.choice(_TIME_BANDS)
        row["work_mode"] = rng.choice(["car", "public_transport", "walking"])
        row["work_time_band"] = rng.choice(["less_than_10_min", "between_20_and_30_min"])
        for topic in ("car", "meat", "local_food", "second_hand"):
            row[f"change_{topic}"] = rng.choice(["Non", "Oui, je le fais déjà"])
            row[f"change_{topic}_reasons"] = rng.choice(_REASONS)
        return row

    rows: list[dict[str, object]] = []
    if n:
        for home in rng.choice(homes, n):
            rows.append(background(str(home)) | {"plant": "background"})
    if n_planted:
        minutes = access[food]
        far = homes[(minutes.isna() | (minutes > POOR_MIN)).to_numpy()]
        near = homes[(minutes <= 3.0).to_numpy()]
        if len(far) < 10 or len(near) < 10:
            raise ValidationError(
                msg(
                    "les groupes plantés demandent au moins 10 logements à plus de {poor} "
                    "minutes d'un commerce alimentaire et 10 à moins de 3 minutes ({far} et "
                    "{near} ici) : passez n_planted=0.",
                    poor=POOR_MIN,
                    far=len(far),
                    near=len(near),
                )
            )
        for plant, pool in (("missing", far), ("unknown", near)):
            for home in rng.choice(pool, n_planted):
                row = background(str(home))
                row.update({"food_mode": "walking", "food_time_band": "between_30_and_45_min"})
                rows.append(row | {"plant": plant})
    if not rows:
        raise ValidationError(msg("n et n_planted valent 0 : aucune réponse à générer."))
    frame = pd.DataFrame(rows)
    frame.insert(0, "respondent_id", [f"{prefix}{i + 1:05d}" for i in range(len(frame))])
    frame["synthetic"] = True
    geometry = getattr(access, "geometry", None) if hasattr(access, "crs") else None
    if geometry is not None and access.crs is not None:
        _add_places(frame, access)
    return frame


def _add_places(frame: pd.DataFrame, access: pd.DataFrame) -> None:
    """Give each answer its home's point (WGS84) and 200 m cell, from a table of points."""
    from qet_geo.crs import WGS84
    from qet_geo.inputs.census import point_to_cell_id

    points = access.geometry
    points = points.set_axis(access.index.astype(str))
    points = points[~points.index.duplicated()]
    chosen = points.loc[list(frame["building_key"].astype(str))]
    wgs = chosen.to_crs(WGS84)
    frame["lon"] = np.round(wgs.x.to_numpy(), 6)
    frame["lat"] = np.round(wgs.y.to_numpy(), 6)
    frame["cell_id"] = point_to_cell_id(chosen).to_numpy()


# --------------------------------------------------------------------------------------------------
# NosGestesClimat


def synthetic_ngc(
    su: Source | bytes | pd.DataFrame,
    *,
    share: float = 1.0,
    spread: float = 0.1,
    seed: int = 0,
) -> pd.DataFrame:
    """Make labelled-synthetic NGC results for the synthetic respondents of an SU file.

    Parameters
    ----------
    su
        The SU answers: a file written by ``qet survey synthesize`` (CSV, TSV, XLSX: read by
        :func:`qet_geo.surveys.su.read_su`) or a frame indexed by respondent id with the usage
        levels (``synthesize_answers``' result). Every respondent must be synthetic (``SYN-``
        id): results are never made up for real people.
    share
        Share of the SU respondents who also took the NGC questionnaire (0 < share ≤ 1), drawn
        at random; all by default.
    spread
        Standard deviation of the log of each category's rest (0 for none; below 1).
    seed
        Seed of the random generator.

    Returns
    -------
    pandas.DataFrame
        One row per chosen respondent, in the SU order: ``respondent_id`` (the SU one), the NGC
        columns under NGC's rule names (:data:`NGC_HEADERS`), in kgCO2e a year rounded to 0.1,
        and ``synthetic`` (True). :func:`qet_geo.surveys.ngc.read_ngc` reads it back.

    Raises
    ------
    ValidationError
        A real respondent among the SU answers, no usage column, or bad ``share``/``spread``.
    InputFileError, EmptyDataError
        The SU file cannot be read.
    """
    from qet_geo.analysis.footprint import read_ngc_scale
    from qet_geo.surveys.schema import USAGES

    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise ValidationError(
            msg("share doit être une part entre 0 (exclu) et 1, reçu {share!r}.", share=share)
        )
    if isinstance(spread, bool) or not isinstance(spread, int | float) or not 0 <= spread < 1:
        raise ValidationError(
            msg("spread doit être un nombre de 0 à 1 (exclu), reçu {spread!r}.", spread=spread)
        )
    answers = _su_answers(su)
    usages = [u for u in USAGES if u in answers.columns]
    if not usages:
        raise ValidationError(
            msg(
                "les réponses SU n'ont aucune colonne d'usage ({usages}) : donnez le fichier de "
                "qet survey synthesize.",
                usages=", ".join(USAGES),
            )
        )
    if answers.empty:
        raise ValidationError(msg("les réponses SU sont vides : aucun répondant à reprendre."))
    if not synthetic_label(answers.index, source=msg("les réponses SU")):
        raise ValidationError(
            msg(
                "les réponses SU sont réelles (identifiants sans SYN-) : des résultats "
                "NosGestesClimat ne sont jamais inventés pour de vraies personnes. Donnez un "
                "fichier de qet survey synthesize."
            )
        )
    rng = np.random.default_rng(seed)
    if share < 1:
        k = max(1, round(share * len(answers)))
        chosen = np.sort(rng.choice(len(answers), size=k, replace=False))
        answers = answers.iloc[chosen]
    scale = read_ngc_scale()
    level_kg = {
        (u, int(lv)): float(v)
        for u, lv, v in scale[["usage", "level", "kgco2e"]].itertuples(index=False)
    }
    default_kg = scale.groupby("usage")["default_kgco2e"].first().astype(float).to_dict()
    n = len(answers)
    scope = pd.DataFrame(index=answers.index, dtype=float)
    for usage in USAGES:
        levels = (
            pd.to_numeric(answers[usage], errors="coerce")
            if usage in answers.columns
            else pd.Series(np.nan, index=answers.index)
        )
        value = levels.map(
            lambda lv, u=usage: level_kg.get((u, int(lv))) if pd.notna(lv) else np.nan
        )
        scope[usage] = value.astype(float).fillna(default_kg[usage])
    out = pd.DataFrame(index=answers.index)
    for category, default in NGC_DEFAULTS.items():
        own = [u for u, c in _USAGE_CATEGORY.items() if c == category]
        rest = default - sum(default_kg[u] for u in own)
        factor = np.exp(rng.normal(0.0, spread, n) - spread**2 / 2) if spread else np.ones(n)
        out[category] = rest * factor + scope[own].sum(axis=1).to_numpy() if own else rest * factor
    mobility = scope["transportation_mode"]
    car = (
        pd.to_numeric(answers["transportation_mode"], errors="coerce") == 3
        if "transportation_mode" in answers.columns
        else pd.Series(False, index=answers.index)
    )
    out["transport_avion"] = scope["air_travel_frequency"]
    out["transport_voiture"] = mobility.where(car, 0.0)
    out["transport_commun"] = mobility.where(~car, 0.0)
    out["logement_chauffage"] = scope["heat_source"]
    out["divers_numerique"] = scope["digital_intensity"]
    out["divers_textile"] = scope["purchasing_strategy"]
    out = out.round(1)
    out["total"] = out[list(NGC_DEFAULTS)].sum(axis=1).round(1)
    frame = out[list(NGC_HEADERS)].rename(columns=dict(NGC_HEADERS))
    frame.insert(0, "respondent_id", answers.index.astype(str))
    frame["synthetic"] = True
    return frame.reset_index(drop=True)


def _su_answers(su: Source | bytes | pd.DataFrame) -> pd.DataFrame:
    """The SU answers indexed by respondent id (a frame as given, or the file read)."""
    if isinstance(su, pd.DataFrame):
        frame = su
        if "respondent_id" in frame.columns:
            frame = frame.set_index("respondent_id")
        frame = frame.copy()
        frame.index = frame.index.astype(str)
        return frame
    from qet_geo.surveys.su import read_su

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the synthetic flag and the places are not answers
        read = read_su(io.BytesIO(su) if isinstance(su, bytes | bytearray) else su)
    answers = read.answers.copy()
    answers.index = answers.index.astype(str)
    return answers
