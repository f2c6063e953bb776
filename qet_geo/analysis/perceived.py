"""Measured against perceived access: what MdV/EdV answers say beside the computed minutes.

The method asks "Comment les environnements contraignent-ils certains usages ?". The MdV/EdV
survey ("modes de vie", "espaces de vie", :mod:`qet_geo.surveys.mdv`) holds what residents say
of their living environment: whether walking, cycling and transit are easy, whether the markets,
shops, repairers and public services near home satisfy them, how and how long they travel to
food shopping, work and leisure, and why they do not change a habit ("pas d'offre à proximité").
The access table (:func:`qet_geo.constraints.access.neighbourhood_access`) holds what the streets
say from the same homes: the minutes on foot and by bike to the nearest offer of each kind.

:func:`compare_access` puts them side by side, answer by answer and question by question, and
sorts each pair into one of the :data:`CATEGORIES`:

- **offer_unknown_or_unused**, "l'offre existe mais n'est pas connue ou pas utilisée": the
  measured access is good, yet the resident finds it poor, does not know, or makes the trip by a
  motorised mode (the usage is not done);
- **offer_missing**, "l'offre manque": the measured access is poor and the resident finds it
  poor too (or does not know, or drives);
- **agree_good**: both say the offer is there;
- **perceived_better**: the resident is satisfied although the measure finds nothing near (an
  offer outside the extract or the survey's categories, a car trip judged easy);
- **undecided**: either side lies between good and poor.

:func:`perceived_access` publishes the shares of the categories per 200 m zone and for the whole
neighbourhood, through the privacy chokepoint (:func:`qet_geo.privacy.safe_aggregate`), as a
:class:`PerceivedAccess`.

The question → indicator table
------------------------------
:data:`QUESTIONS` is the one place that says which indicator(s) of the registry
(:mod:`qet_geo.constraints.indicators`) each MdV access question speaks of:

===============================  =========================================  ====================
MdV question                     indicator(s) measured from the home        perceived side
===============================  =========================================  ====================
easy_walking                     score_15min (walk)                          oui / non / NSP
easy_cycling                     cycle_km_500m                               oui / non / NSP
easy_transit                     transit_stop_min                            oui / non / NSP
easy_leaving_by_transit          rail_station_min                            oui / non / NSP
satisfied_markets                market_min                                  oui / non / NSP
satisfied_organic_seasonal_food  market_min, food_shop_min (nearest)         oui / non / NSP
satisfied_repair_shops           second_hand_repair_min                      oui / non / NSP
satisfied_second_hand_shops      second_hand_repair_min                      oui / non / NSP
satisfied_local_shops            local_shop_min                              oui / non / NSP
satisfied_public_services        public_service_min                          oui / non / NSP
food_time_band                   food_shop_min (walk; bike if by bike)       mode and time band
leisure_time_band                sport_culture_min, park_min (nearest)       mode and time band
work_time_band                   transit_stop_min (the commute's offer)      mode
change_car_reasons               transit_stop_min                            reasons, willingness
change_meat_reasons              food_shop_min                               reasons, willingness
change_local_food_reasons        market_min, food_shop_min (nearest)         reasons, willingness
change_second_hand_reasons       second_hand_repair_min                      reasons, willingness
===============================  =========================================  ====================

The workplace itself is not known (the destination zone is free text), so the commute is held
against the transit stop near home, its low-carbon offer. Several indicators: the nearest offer of
any of those kinds counts (the minimum of the minutes).

The rule
--------
**Measured side** (:data:`ACCESS_THRESHOLDS`, per indicator): a time to the nearest offer is
*good* up to 10 minutes (well inside the 15-minute city, and the MdV's shortest band "<10") and
*poor* beyond :data:`~qet_geo.constraints.indicators.SCORE_MIN` = 15 minutes (outside the
15-minute city) or when none is within the 5 km search; between the two it is *middle*. Transit
stops: good up to 5 minutes (the 400 m catchment,
:data:`~qet_geo.constraints.indicators.TRANSIT_RADIUS_M`, at 4.5 km/h), poor beyond 10 (twice
it). Railway station: good up to 15 minutes, poor beyond 30 (the registry's map classes). The
15-minute score: good from 75 %, poor under 50 %; the cycle network: good from 1 km within
500 m, poor under 0.5 km (the registry's map classes). Minutes are on foot, or by bike when the
resident says the trip is made by bike. An indicator no home reaches at all (no railway station
in the extract) is *not measured*, not poor: the extract may simply not hold it.

**Perceived side**: "oui" is good, "non" poor, "je ne sais pas" *unknown*. A trip by car, taxi or
transit to food or leisure is *unused* (the walkable offer is not used); on foot or by bike, a
time band "<10" is good, "10-20" middle, 20 minutes or more poor. The commute: walking, cycling
or transit is good, a car *unused*. Reasons for not changing: "pas d'offre (de transport en
commun) à proximité" is poor, "je ne connais pas les alternatives" unknown, already doing it
good; other reasons say nothing of access and are not compared.

Privacy
-------
The per-answer comparison (:func:`compare_access`) is personal data: it stays inside the store.
:class:`PerceivedAccess` holds only tables made by :func:`qet_geo.privacy.safe_aggregate`, one
call per question: 200 m cells pooled until each zone holds at least 11 compared answers
(:data:`~qet_geo.privacy.MIN_RESPONDENTS`), no zone where one category is 100 % of the answers
(rule 3 applied to the categories as to profiles), no zone where one home makes more than 85 % of
the summed minutes (rule 3, dominance). Every compared answer is in a published zone or none is
published, and the neighbourhood row of a question is published only when its zones add up to it
exactly: nothing can be had by subtracting the zones from the neighbourhood.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from qet_geo.analysis._publish import _count, _round_to
from qet_geo.constraints.indicators import (
    CYCLE_KM,
    SCORE,
    SCORE_MIN,
    TRANSIT_RADIUS_M,
    nearest_min,
)
from qet_geo.errors import QetGeoWarning, ValidationError
from qet_geo.i18n import Lang, Msg, msg
from qet_geo.privacy import MIN_RESPONDENTS, require_protected, safe_aggregate
from qet_geo.surveys.schema import (
    CHANGE_TOPICS,
    MDV_EASE,
    MDV_SATISFACTION,
    TRIP_PURPOSES,
)

if TYPE_CHECKING:
    from qet_geo.layers import NeighbourhoodLayers

__all__ = [
    "ACCESS_THRESHOLDS",
    "CATEGORIES",
    "CATEGORY_LABELS",
    "COLUMN_LABELS",
    "DOMAINS",
    "DOMAIN_LABELS",
    "GOOD_MIN",
    "POOR_MIN",
    "QUESTIONS",
    "AccessQuestion",
    "PerceivedAccess",
    "Threshold",
    "access_questions",
    "compare_access",
    "perceived_access",
    "question_states",
    "read_located_mdv",
]

# --------------------------------------------------------------------------------------------------
# thresholds

#: Minutes to the nearest offer up to which the measured access is good: well inside the
#: 15-minute city, and the MdV's shortest time band ("<10").
GOOD_MIN = 10.0
#: Minutes beyond which it is poor: outside the 15-minute city (the registry's SCORE_MIN).
POOR_MIN = float(SCORE_MIN)
_WALK_KMH = 4.5
_STOP_GOOD_MIN = round(TRANSIT_RADIUS_M / (_WALK_KMH * 1000 / 60))  # 400 m on foot: 5 min


@dataclass(frozen=True)
class Threshold:
    """When a measured value is a good or a poor access.

    Attributes
    ----------
    good, poor
        For "worse" (minutes): good when ``value <= good``, poor when ``value > poor`` or no
        offer within the search; for "better" (score, km): good when ``value >= good``, poor
        when ``value < poor``. In between: middle.
    direction
        "worse": a higher value is a worse access (minutes); "better": a better one.
    why
        Where the figures come from, in words.
    """

    good: float
    poor: float
    direction: Literal["worse", "better"]
    why: Msg


_TIME = Threshold(
    GOOD_MIN,
    POOR_MIN,
    "worse",
    msg(
        "bon jusqu'à 10 min (bien dans la ville du quart d'heure), médiocre au-delà de 15 min "
        "(hors de la ville du quart d'heure) ou sans offre à 5 km"
    ),
)

#: The thresholds of each indicator the questions speak of (see the module docstring).
ACCESS_THRESHOLDS: Mapping[str, Threshold] = MappingProxyType(
    {
        **{
            nearest_min(c): _TIME
            for c in (
                "food_shop",
                "market",
                "local_shop",
                "second_hand_repair",
                "public_service",
                "sport_culture",
                "park",
            )
        },
        nearest_min("transit_stop"): Threshold(
            float(_STOP_GOOD_MIN),
            2.0 * _STOP_GOOD_MIN,
            "worse",
            msg(
                "bon jusqu'à 5 min (l'arrêt à moins de 400 m), médiocre au-delà de 10 min (deux "
                "fois plus loin)"
            ),
        ),
        nearest_min("rail_station"): Threshold(
            15.0,
            30.0,
            "worse",
            msg("bon jusqu'à 15 min, médiocre au-delà de 30 min (classes de la carte)"),
        ),
        SCORE: Threshold(
            0.75,
            0.5,
            "better",
            msg("bon dès 75 % des besoins à 15 min, médiocre sous 50 % (classes de la carte)"),
        ),
        CYCLE_KM: Threshold(
            1.0,
            0.5,
            "better",
            msg(
                "bon dès 1 km d'aménagements cyclables à 500 m, médiocre sous 0,5 km (classes "
                "de la carte)"
            ),
        ),
    }
)

# --------------------------------------------------------------------------------------------------
# the question → indicator table

Kind = Literal["yes_no", "trip", "reasons"]


@dataclass(frozen=True)
class AccessQuestion:
    """One MdV access question and the indicator(s) of the registry it speaks of.

    Attributes
    ----------
    key
        The question's column in the MdV answers (:mod:`qet_geo.surveys.schema`).
    label
        What it asks, short, for a table row.
    kind
        yes_no (oui / non / je ne sais pas), trip (the mode and time band of a purpose) or
        reasons (the reasons for not changing a habit, with the willingness).
    indicators
        Columns of the access table; the nearest offer of any of them counts.
    unit
        The unit of the measured value: "min", "share" (the 15-minute score, 0 to 1) or "km".
    accepted
        For trips: the modes that use the offer (the others are *unused*); for reasons: the
        reasons that say the access is poor.
    band
        For trips: whether the time band says anything (food and leisure: yes; the commute: no,
        the workplace is unknown).
    """

    key: str
    label: Msg
    kind: Kind
    indicators: tuple[str, ...]
    unit: str = "min"
    accepted: tuple[str, ...] = ()
    band: bool = True


_ACTIVE = ("walk", "bike", "shared_bike")
_NO_OFFER = ("no_offer_nearby",)

_QUESTIONS: tuple[AccessQuestion, ...] = (
    AccessQuestion(
        "easy_walking", msg("Se déplacer à pied est facile"), "yes_no", (SCORE,), unit="share"
    ),
    AccessQuestion(
        "easy_cycling", msg("Se déplacer à vélo est facile"), "yes_no", (CYCLE_KM,), unit="km"
    ),
    AccessQuestion(
        "easy_transit",
        msg("Se déplacer en transports en commun est facile"),
        "yes_no",
        (nearest_min("transit_stop"),),
    ),
    AccessQuestion(
        "easy_leaving_by_transit",
        msg("Sortir de la ville en transports en commun est facile"),
        "yes_no",
        (nearest_min("rail_station"),),
    ),
    AccessQuestion(
        "satisfied_markets", msg("Satisfait des marchés"), "yes_no", (nearest_min("market"),)
    ),
    AccessQuestion(
        "satisfied_organic_seasonal_food",
        msg("Satisfait de l'offre bio et de saison"),
        "yes_no",
        (nearest_min("market"), nearest_min("food_shop")),
    ),
    AccessQuestion(
        "satisfied_repair_shops",
        msg("Satisfait des réparateurs"),
        "yes_no",
        (nearest_min("second_hand_repair"),),
    ),
    AccessQuestion(
        "satisfied_second_hand_shops",
        msg("Satisfait des boutiques de seconde main"),
        "yes_no",
        (nearest_min("second_hand_repair"),),
    ),
    AccessQuestion(
        "satisfied_local_shops",
        msg("Les commerces de proximité répondent aux besoins"),
        "yes_no",
        (nearest_min("local_shop"),),
    ),
    AccessQuestion(
        "satisfied_public_services",
        msg("Satisfait des services publics"),
        "yes_no",
        (nearest_min("public_service"),),
    ),
    AccessQuestion(
        "food_time_band",
        msg("Courses alimentaires : mode et temps de trajet"),
        "trip",
        (nearest_min("food_shop"),),
        accepted=_ACTIVE,
    ),
    AccessQuestion(
        "work_time_band",
        msg("Travail : mode de trajet (arrêt de transport en commun près du logement)"),
        "trip",
        (nearest_min("transit_stop"),),
        accepted=(*_ACTIVE, "transit"),
        band=False,
    ),
    AccessQuestion(
        "leisure_time_band",
        msg("Loisirs : mode et temps de trajet"),
        "trip",
        (nearest_min("sport_culture"), nearest_min("park")),
        accepted=_ACTIVE,
    ),
    AccessQuestion(
        "change_car_reasons",
        msg("Moins de voiture : raisons de ne pas changer"),
        "reasons",
        (nearest_min("transit_stop"),),
        accepted=("no_transit_nearby", "no_offer_nearby"),
    ),
    AccessQuestion(
        "change_meat_reasons",
        msg("Moins de viande : raisons de ne pas changer"),
        "reasons",
        (nearest_min("food_shop"),),
        accepted=_NO_OFFER,
    ),
    AccessQuestion(
        "change_local_food_reasons",
        msg("Produits locaux et de saison : raisons de ne pas changer"),
        "reasons",
        (nearest_min("market"), nearest_min("food_shop")),
        accepted=_NO_OFFER,
    ),
    AccessQuestion(
        "change_second_hand_reasons",
        msg("Seconde main : raisons de ne pas changer"),
        "reasons",
        (nearest_min("second_hand_repair"),),
        accepted=_NO_OFFER,
    ),
)

#: The MdV access questions by key, each with the indicator(s) it speaks of (module docstring).
QUESTIONS: Mapping[str, AccessQuestion] = MappingProxyType({q.key: q for q in _QUESTIONS})


#: The usage domain of each question, for the neighbourhood-wide summary of the two kinds of gap
#: (food, work, leisure, getting about, goods, services; every key of :data:`QUESTIONS` once).
DOMAINS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "food": (
            "food_time_band",
            "satisfied_markets",
            "satisfied_organic_seasonal_food",
            "change_meat_reasons",
            "change_local_food_reasons",
        ),
        "work": ("work_time_band",),
        "leisure": ("leisure_time_band",),
        "mobility": (
            "easy_walking",
            "easy_cycling",
            "easy_transit",
            "easy_leaving_by_transit",
            "change_car_reasons",
        ),
        "goods": (
            "satisfied_repair_shops",
            "satisfied_second_hand_shops",
            "change_second_hand_reasons",
        ),
        "services": ("satisfied_local_shops", "satisfied_public_services"),
    }
)

#: Labels of :data:`DOMAINS`.
DOMAIN_LABELS: Mapping[str, Msg] = MappingProxyType(
    {
        "food": msg("Alimentation"),
        "work": msg("Travail"),
        "leisure": msg("Loisirs"),
        "mobility": msg("Déplacements"),
        "goods": msg("Réparation et seconde main"),
        "services": msg("Commerces et services publics de proximité"),
    }
)


def access_questions() -> tuple[str, ...]:
    """Return the MdV schema's access questions: the ease and satisfaction questions, the time
    band of each trip purpose and the reasons of each habit (what :data:`QUESTIONS` must cover).
    """
    return (
        *MDV_EASE,
        *MDV_SATISFACTION,
        *(f"{p}_time_band" for p in TRIP_PURPOSES),
        *(f"change_{t}_reasons" for t in CHANGE_TOPICS),
    )


# --------------------------------------------------------------------------------------------------
# categories and labels

#: The categories of a comparison, the method's two kinds of gap first.
CATEGORIES: tuple[str, ...] = (
    "offer_unknown_or_unused",
    "offer_missing",
    "agree_good",
    "perceived_better",
    "undecided",
)

#: Labels of :data:`CATEGORIES`.
CATEGORY_LABELS: Mapping[str, Msg] = MappingProxyType(
    {
        "offer_unknown_or_unused": msg("L'offre existe mais n'est pas connue ou pas utilisée"),
        "offer_missing": msg("L'offre manque"),
        "agree_good": msg("Accord : l'offre existe et elle est perçue"),
        "perceived_better": msg("Perçu meilleur que mesuré"),
        "undecided": msg("Entre-deux : pas de verdict"),
    }
)

_STATES: Mapping[str, Msg] = {
    "good": msg("bon"),
    "poor": msg("médiocre"),
    "middle": msg("moyen"),
    "unknown": msg("ne sait pas"),
    "unused": msg("pas utilisé"),
}

#: Labels of the columns of the published tables.
COLUMN_LABELS: Mapping[str, Msg] = MappingProxyType(
    {
        "scale": msg("échelle"),
        "question": msg("question"),
        "label": msg("intitulé"),
        "zone_id": msg("zone"),
        "indicators": msg("indicateurs mesurés"),
        "unit": msg("unité"),
        "thresholds": msg("seuils"),
        "n_respondents": msg("réponses comparées (nombre)"),
        **{
            f"share_{c}": msg("{label} (part, de 0 à 1)", label=CATEGORY_LABELS[c])
            for c in CATEGORIES
        },
        "walk_value_mean": msg("valeur mesurée à pied, moyenne"),
        "bike_value_mean": msg("valeur mesurée à vélo, moyenne"),
        "merged": msg("zone regroupée"),
    }
)
_SHARES = tuple(f"share_{c}" for c in CATEGORIES)
_PUBLISHED = ("n_respondents", *_SHARES, "walk_value_mean", "bike_value_mean")


# --------------------------------------------------------------------------------------------------
# reading and locating MdV answers


def read_located_mdv(path: str | PathLike[str], layers: NeighbourhoodLayers) -> pd.DataFrame:
    """Read MdV/EdV answers and locate each home on the neighbourhood's buildings and cells.

    Parameters
    ----------
    path
        An MdV/EdV answer file (CSV, TSV, XLSX: :func:`qet_geo.surveys.mdv.read_mdv`) with a
        location per respondent: ``building_key``, ``lon``/``lat``, ``x``/``y``, ``cell_id`` or
        an address.
    layers
        The neighbourhood (:func:`qet_geo.layers.build_layers`).

    Returns
    -------
    pandas.DataFrame
        The MdV answers indexed by ``respondent_id``, with ``building_key`` and ``cell_id``
        (raw coordinates and addresses dropped, as for SU answers in
        :func:`qet_geo.surveys.located.read_located_answers`); ``synthetic`` (True) and
        ``attrs["synthetic"]`` when the answers are labelled synthetic.

    Raises
    ------
    InputFileError, ValidationError, DataCoverageError
        As :func:`~qet_geo.surveys.mdv.read_mdv` and
        :func:`~qet_geo.surveys.located.read_located_answers`.
    """
    from qet_geo._validate import existing_file

    # the located-answers machinery of the SU reader, reused as is for MdV answers
    from qet_geo.surveys.located import locate_answers
    from qet_geo.surveys.mdv import read_mdv
    from qet_geo.surveys.synthetic import survey_synthetic_label

    file = Path(path)
    existing_file(file, what=msg("Fichier de réponses MdV"), file_only=True)
    with warnings.catch_warnings():
        # the synthetic flag of a labelled-synthetic file is not an answer (SYN- ids say it)
        warnings.filterwarnings(
            "ignore",
            message=r".*columns \['synthetic'\] were not recognised.*",
            category=QetGeoWarning,
        )
        read = read_mdv(file)
    synthetic = survey_synthetic_label(read, file, name=file.name)
    locations = read.locations.copy()
    locations.index = read.answers.index
    return locate_answers(read.answers, locations, layers, file=file, synthetic=synthetic)


# --------------------------------------------------------------------------------------------------
# the comparison, answer by answer (personal data)


def compare_access(
    answers: pd.DataFrame,
    access: pd.DataFrame,
    *,
    bike_access: pd.DataFrame | None = None,
    cell_access: pd.DataFrame | None = None,
    questions: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Put each MdV answer beside the measured access from the same home, and sort the gap.

    Parameters
    ----------
    answers
        Located MdV answers (:func:`read_located_mdv`): the question columns and
        ``building_key`` and/or ``cell_id``.
    access
        Walking access per home (:func:`qet_geo.constraints.access.neighbourhood_access`,
        homes as buildings, indexed by building key).
    bike_access
        The same by bike: the minutes by bike are given beside, and judge the trips the
        resident makes by bike.
    cell_access
        Walking access per 200 m cell, for answers located by their cell only.
    questions
        Keys of :data:`QUESTIONS` to compare; those the answers hold by default.

    Returns
    -------
    pandas.DataFrame
        Personal data, never to publish: one row per (``respondent_id``, ``question``) compared,
        with ``cell_id``, ``answer`` (the answer as read), ``perceived`` (good, poor, middle,
        unknown, unused), ``walk_value`` and ``bike_value`` (the measured value, NaN when no
        offer is within the search), ``judged_by`` (walk or bike), ``measured`` (good, poor,
        middle) and ``category`` (:data:`CATEGORIES`). Answers without a located home, without an
        answer or with an indicator that is not measured are left out.

    Raises
    ------
    ValidationError
        A question is unknown, or the answers are not located.
    """
    from qet_geo.analysis.homes import join_constraints

    keys = _questions(answers, questions)
    walk = join_constraints(answers, access, cell_access=cell_access)
    bike = (
        join_constraints(answers, bike_access)
        if bike_access is not None
        else pd.DataFrame(index=answers.index)
    )
    frames = [_compare(QUESTIONS[k], answers, walk, bike, access) for k in keys]
    columns = [
        "respondent_id",
        "question",
        "cell_id",
        "answer",
        "perceived",
        "walk_value",
        "bike_value",
        "judged_by",
        "measured",
        "category",
    ]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)
    return out[columns]


def question_states(answers: pd.DataFrame, access: pd.DataFrame) -> dict[str, str]:
    """Say, for each of :data:`QUESTIONS`, whether :func:`compare_access` can compare it.

    Parameters
    ----------
    answers
        Located MdV answers (:func:`read_located_mdv`).
    access
        Walking access per home, as for :func:`compare_access`.

    Returns
    -------
    dict
        Question key → "not_answered" (the answers lack the question), "not_measured" (no home
        of the access table reaches its offer: the extract may not hold it) or "comparable".
    """
    out = {}
    for key, q in QUESTIONS.items():
        if not _has_question(answers, q):
            out[key] = "not_answered"
        elif not _measured_anywhere(q, access):
            out[key] = "not_measured"
        else:
            out[key] = "comparable"
    return out


def _questions(answers: pd.DataFrame, questions: Sequence[str] | None) -> list[str]:
    if not isinstance(answers, pd.DataFrame):
        raise ValidationError(msg("answers doit être un DataFrame de réponses MdV localisées."))
    if "building_key" not in answers.columns and "cell_id" not in answers.columns:
        raise ValidationError(
            msg(
                "answers n'a ni building_key ni cell_id : localisez d'abord les logements "
                "(read_located_mdv)."
            )
        )
    if questions is None:
        return [k for k in QUESTIONS if _has_question(answers, QUESTIONS[k])]
    unknown = [q for q in questions if q not in QUESTIONS]
    if unknown:
        raise ValidationError(
            msg(
                "question(s) {unknown} inconnue(s) : utilisez l'une de {known}.",
                unknown=unknown,
                known=", ".join(QUESTIONS),
            )
        )
    return list(questions)


def _has_question(answers: pd.DataFrame, q: AccessQuestion) -> bool:
    if q.kind == "trip":
        purpose = q.key.removesuffix("_time_band")
        return q.key in answers.columns or f"{purpose}_mode" in answers.columns
    if q.kind == "reasons":
        return q.key in answers.columns or q.key.removesuffix("_reasons") in answers.columns
    return q.key in answers.columns


def _column(answers: pd.DataFrame, name: str) -> pd.Series:
    if name in answers.columns:
        return answers[name].astype("string")
    return pd.Series(pd.NA, index=answers.index, dtype="string")


def _perceived(q: AccessQuestion, answers: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The perceived state of each answer, and the answer in words (for the internal table)."""
    state = pd.Series(pd.NA, index=answers.index, dtype="string")
    if q.kind == "yes_no":
        given = _column(answers, q.key)
        state = given.map({"yes": "good", "no": "poor", "dont_know": "unknown"}).astype("string")
        return state, given
    if q.kind == "trip":
        purpose = q.key.removesuffix("_time_band")
        mode = _column(answers, f"{purpose}_mode")
        band = _column(answers, q.key)
        if q.band:
            state = band.map(
                {"<10": "good", "10-20": "middle", "20-30": "poor", "30-45": "poor", ">45": "poor"}
            ).astype("string")
        motorised = mode.notna() & ~mode.isin([*q.accepted, "none"])
        active = mode.isin(q.accepted).fillna(False)
        state = state.mask(motorised.fillna(False), "unused")
        if not q.band:
            state = state.mask(active, "good")
        state = state.mask(mode.eq("none").fillna(False), pd.NA)
        given = (mode.fillna("?") + " " + band.fillna("?")).astype("string")
        return state, given
    # reasons, with the willingness of the same habit
    reasons = _column(answers, q.key)
    willing = _column(answers, q.key.removesuffix("_reasons"))
    parts = reasons.fillna("").str.split(";")
    poor = parts.map(lambda p: any(r in q.accepted for r in p)).astype(bool)
    unknown = parts.map(lambda p: "alternatives_unknown" in p).astype(bool)
    state = state.mask(willing.eq("already").fillna(False), "good")
    state = state.mask(unknown, "unknown").mask(poor, "poor")
    given = (willing.fillna("?") + " " + reasons.fillna("")).astype("string")
    return state, given


def _measured_value(q: AccessQuestion, joined: pd.DataFrame) -> pd.Series:
    present = [c for c in q.indicators if c in joined.columns]
    if not present:
        return pd.Series(np.nan, index=joined.index, dtype=float)
    values = joined[present].astype(float)
    if ACCESS_THRESHOLDS[q.indicators[0]].direction == "worse":
        return values.min(axis=1, skipna=True)
    return values.max(axis=1, skipna=True)


def _state(values: pd.Series, threshold: Threshold) -> pd.Series:
    v = values.to_numpy(dtype=float)
    if threshold.direction == "worse":
        good = v <= threshold.good
        poor = (v > threshold.poor) | np.isnan(v)  # NaN: no offer within the search
    else:
        good = v >= threshold.good
        poor = (v < threshold.poor) | np.isnan(v)
    out = np.where(good, "good", np.where(poor, "poor", "middle"))
    return pd.Series(out, index=values.index, dtype="string")


def _measured_anywhere(q: AccessQuestion, access: pd.DataFrame) -> bool:
    """Whether any home of the access table reaches one of the question's offers."""
    present = [c for c in q.indicators if c in access.columns]
    return bool(present) and bool(access[present].notna().to_numpy().any())


def _compare(
    q: AccessQuestion,
    answers: pd.DataFrame,
    walk: pd.DataFrame,
    bike: pd.DataFrame,
    access: pd.DataFrame,
) -> pd.DataFrame:
    if not _measured_anywhere(q, access):
        warnings.warn(
            QetGeoWarning(
                msg(
                    "{question} : aucun logement n'atteint {indicators} dans l'extrait ; la "
                    "question n'est pas comparée (élargissez l'extrait si l'offre existe).",
                    question=q.key,
                    indicators=", ".join(q.indicators),
                )
            ),
            stacklevel=3,
        )
        return pd.DataFrame()
    perceived, given = _perceived(q, answers)
    walk_value = _measured_value(q, walk)
    bike_value = (
        _measured_value(q, bike)
        if not bike.columns.empty
        else pd.Series(np.nan, index=answers.index, dtype=float)
    )
    threshold = ACCESS_THRESHOLDS[q.indicators[0]]
    judged_by = pd.Series("walk", index=answers.index, dtype="string")
    value = walk_value.copy()
    if q.kind == "trip" and not bike.columns.empty:
        mode = _column(answers, f"{q.key.removesuffix('_time_band')}_mode")
        by_bike = mode.isin(["bike", "shared_bike"]).fillna(False).to_numpy(dtype=bool)
        by_bike = by_bike & bike["located_by"].notna().to_numpy(dtype=bool)
        value[by_bike] = bike_value[by_bike]
        judged_by[by_bike] = "bike"
    measured = _state(value, threshold)
    located = walk["located_by"].notna()
    keep = (located & perceived.notna()).to_numpy(dtype=bool)
    category = _category(perceived, measured)
    cells = (
        answers["cell_id"].astype("string")
        if "cell_id" in answers.columns
        else pd.Series(pd.NA, index=answers.index, dtype="string")
    )
    frame = pd.DataFrame(
        {
            "respondent_id": answers.index.astype(str),
            "question": q.key,
            "cell_id": cells.to_numpy(),
            "answer": given.to_numpy(),
            "perceived": perceived.to_numpy(),
            "walk_value": walk_value.to_numpy(dtype=float),
            "bike_value": bike_value.to_numpy(dtype=float),
            "judged_by": judged_by.to_numpy(),
            "measured": measured.to_numpy(),
            "category": category.to_numpy(),
        }
    )
    return frame.loc[keep].reset_index(drop=True)


def _category(perceived: pd.Series, measured: pd.Series) -> pd.Series:
    p = perceived.fillna("").to_numpy(dtype=object)
    m = measured.fillna("").to_numpy(dtype=object)
    negative = np.isin(p, ["poor", "unknown", "unused"])
    out = np.full(len(p), "undecided", dtype=object)
    out[(m == "good") & negative] = "offer_unknown_or_unused"
    out[(m == "poor") & negative] = "offer_missing"
    out[(m == "good") & (p == "good")] = "agree_good"
    out[(m == "poor") & (p == "good")] = "perceived_better"
    return pd.Series(out, index=perceived.index, dtype="string")


# --------------------------------------------------------------------------------------------------
# the published tables


@dataclass(frozen=True, eq=False)
class PerceivedAccess:
    """Measured against perceived access, as published (every figure through the chokepoint).

    Attributes
    ----------
    synthetic
        Whether the answers are labelled synthetic (a demonstration, not a survey).
    n_answers, n_located
        MdV answers, and answers whose home was found; None under 11.
    lang
        "fr" or "en": the language of ``label`` and ``thresholds``.
    questions
        One row per question of :data:`QUESTIONS` (index ``question``): ``label``,
        ``indicators`` (joined by ", "), ``unit``, ``thresholds`` (in words), ``compared``
        (whether the answers and the extract allowed the comparison).
    neighbourhood
        One row per compared question (index ``question``): ``n_respondents`` (``<NA>`` when
        withheld), ``share_<category>`` for each of :data:`CATEGORIES` (0 to 1, NaN when
        withheld), ``walk_value_mean`` and ``bike_value_mean`` (the measured values over the
        respondents' homes, in the question's unit).
    zones
        The same per published zone (index ``question``, ``zone_id``), plus ``merged``; a
        GeoDataFrame in EPSG:2154 whose geometry is the zone's territory (200 m cell, or pooled
        cells, :func:`qet_geo.privacy.safe_aggregate`). Zones never overlap within a question.
    """

    synthetic: bool
    n_answers: int | None
    n_located: int | None
    lang: Lang
    questions: pd.DataFrame
    neighbourhood: pd.DataFrame
    zones: pd.DataFrame

    @staticmethod
    def labels(lang: Lang = "fr") -> dict[str, str]:
        """Return the label of every column and category, in ``lang`` (keys as in the tables)."""
        out = {k: v.render(lang) for k, v in COLUMN_LABELS.items()}
        out.update({k: v.render(lang) for k, v in CATEGORY_LABELS.items()})
        return out

    def table(self) -> pd.DataFrame:
        """Return the neighbourhood and the zones as one long table (no geometry), for CSV.

        Columns: ``scale`` ("quartier" or "zone" in French, "neighbourhood" or "zone"),
        ``question``, ``label``, ``zone_id`` (empty for the neighbourhood), then the published
        figures and ``merged``.
        """
        label = self.questions["label"]
        hood = self.neighbourhood.reset_index()
        hood.insert(0, "scale", msg("quartier").render(self.lang))
        hood.insert(2, "zone_id", "")
        hood["merged"] = pd.NA
        zones = pd.DataFrame(self.zones.drop(columns="geometry", errors="ignore")).reset_index()
        zones.insert(0, "scale", msg("zone").render(self.lang))
        out = pd.concat([hood, zones], ignore_index=True)
        out.insert(2, "label", out["question"].map(label))
        return out[["scale", "question", "label", "zone_id", *_PUBLISHED, "merged"]]

    def to_dict(self) -> dict[str, Any]:
        """Return the published tables as JSON-ready data (zone geometries in WGS84, GeoJSON)."""
        import shapely.geometry

        def num(v: Any) -> Any:
            if v is None or v is pd.NA:
                return None
            if isinstance(v, float | np.floating):
                return None if math.isnan(float(v)) else float(v)
            if isinstance(v, np.integer):
                return int(v)
            if isinstance(v, np.bool_):
                return bool(v)
            return v

        zones = self.zones
        geoms: dict[Any, Any] = {}
        if "geometry" in zones.columns and len(zones):
            wgs = zones.geometry.to_crs(4326)
            geoms = {k: shapely.geometry.mapping(g) for k, g in wgs.items() if g is not None}
        return {
            "synthetic": self.synthetic,
            "n_answers": self.n_answers,
            "n_located": self.n_located,
            "lang": self.lang,
            "min_respondents": MIN_RESPONDENTS,
            "labels": self.labels(self.lang),
            "questions": [
                {"question": k, **{c: num(v) for c, v in row.items()}}
                for k, row in self.questions.iterrows()
            ],
            "neighbourhood": [
                {"question": k, **{c: num(row[c]) for c in _PUBLISHED}}
                for k, row in self.neighbourhood.iterrows()
            ],
            "zones": [
                {
                    "question": question,
                    "zone_id": zone_id,
                    **{c: num(row[c]) for c in (*_PUBLISHED, "merged")},
                    "geometry": geoms.get((question, zone_id)),
                }
                for (question, zone_id), (_, row) in zip(
                    zones.index.to_list(), zones.iterrows(), strict=True
                )
            ],
        }


def perceived_access(
    answers: pd.DataFrame,
    access: pd.DataFrame,
    *,
    bike_access: pd.DataFrame | None = None,
    cell_access: pd.DataFrame | None = None,
    lang: Lang = "fr",
) -> PerceivedAccess:
    """Publish measured against perceived access per 200 m zone and for the neighbourhood.

    Parameters
    ----------
    answers, access, bike_access, cell_access
        As for :func:`compare_access`.
    lang
        "fr" or "en": the language of the labels.

    Returns
    -------
    PerceivedAccess
        The published tables; see the module docstring for the privacy rules they obey.

    Warns
    -----
    QetGeoWarning
        A question's indicator is measured nowhere, or a question's answers are too few (or too
        uniform) to publish anything.
    """
    if lang not in ("fr", "en"):
        raise ValidationError(msg("lang doit valoir 'fr' ou 'en', pas {lang!r}.", lang=lang))
    compared = compare_access(answers, access, bike_access=bike_access, cell_access=cell_access)
    synthetic = bool(answers.attrs.get("synthetic", False)) or (
        "synthetic" in answers.columns and bool(answers["synthetic"].fillna(False).all())
    )
    located = answers.index[
        answers.get("building_key", pd.Series(pd.NA, index=answers.index)).notna()
        | answers.get("cell_id", pd.Series(pd.NA, index=answers.index)).notna()
    ]
    hood_rows: list[dict[str, Any]] = []
    zone_tables: list[pd.DataFrame] = []
    marks: list[dict[Any, Any]] = []
    done = set(compared["question"].unique()) if len(compared) else set()
    for key in QUESTIONS:
        if key not in done:
            continue
        part = compared[compared["question"] == key]
        zones, hood, mark = _publish_question(key, part)
        hood_rows.append(hood)
        marks.append(mark)
        if len(zones):
            zone_tables.append(zones)
    questions = _questions_table(done, lang)
    neighbourhood = pd.DataFrame.from_records(
        hood_rows, columns=["question", *_PUBLISHED]
    ).set_index("question")
    neighbourhood["n_respondents"] = neighbourhood["n_respondents"].astype("Int64")
    zones = _concat_zones(zone_tables)
    for name in _PUBLISHED:
        if name.startswith("share_"):
            neighbourhood[name] = neighbourhood[name].astype(float)
    if marks:
        # every row came out of safe_aggregate and passed require_protected: keep its mark
        neighbourhood.attrs.update(marks[0])
    return PerceivedAccess(
        synthetic=synthetic,
        n_answers=_count(len(answers)),
        n_located=_count(len(located)),
        lang=lang,
        questions=questions,
        neighbourhood=neighbourhood,
        zones=zones,
    )


def _publish_question(
    key: str, part: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, Any], dict[Any, Any]]:
    """Zones and neighbourhood row of one question, both from safe_aggregate."""
    unit = QUESTIONS[key].unit
    step = 0.5 if unit == "min" else 0.01
    frame = pd.DataFrame(
        {
            "cell_id": part["cell_id"].astype("string").to_numpy(),
            "category": part["category"].astype(object).to_numpy(),
            "walk_value": part["walk_value"].astype(float).to_numpy(),
            "bike_value": part["bike_value"].astype(float).to_numpy(),
            "quartier": "quartier",
        }
    )
    values = [c for c in ("walk_value", "bike_value") if frame[c].notna().any()]
    rules: dict[str, Any] = {"values": values, "profile": "category"}
    with warnings.catch_warnings():
        # a question whose answers cannot all be published is withheld whole, said below
        warnings.simplefilter("ignore", QetGeoWarning)
        zones = safe_aggregate(frame, zone="cell_id", leftover="nearest", **rules)
        whole = safe_aggregate(frame, zone="quartier", leftover="suppress", **rules)
    require_protected(zones, what=f"perceived access zones ({key})")
    require_protected(whole, what=f"perceived access ({key})")
    n = len(frame)
    in_zones = int(zones["n_respondents"].sum()) if len(zones) else 0
    # no remainder: the zones add up to the neighbourhood, or nothing is published
    if len(whole) != 1 or in_zones != n:
        if n:
            warnings.warn(
                QetGeoWarning(
                    msg(
                        "{question} : les réponses comparées sont trop peu nombreuses ou trop "
                        "uniformes pour être publiées sans révéler moins de {k} répondants ; "
                        "rien n'est publié pour cette question.",
                        question=key,
                        k=MIN_RESPONDENTS,
                    )
                ),
                stacklevel=3,
            )
        hood = {"question": key, "n_respondents": pd.NA}
        hood.update({c: np.nan for c in _PUBLISHED if c != "n_respondents"})
        return zones.iloc[0:0], hood, dict(whole.attrs)
    hood = {"question": key, **_figures(whole.iloc[0], values, step)}
    out = zones.copy()
    records = [_figures(row, values, step) for _, row in zones.iterrows()]
    for c in _PUBLISHED:
        out[c] = [r[c] for r in records]
    out = out[[*_PUBLISHED, "merged", "geometry"]]
    out.index = pd.MultiIndex.from_tuples(
        [(key, z) for z in zones.index], names=["question", "zone_id"]
    )
    return out, hood, dict(whole.attrs)


def _figures(row: pd.Series, values: list[str], step: float) -> dict[str, Any]:
    out: dict[str, Any] = {"n_respondents": int(row["n_respondents"])}
    for c in CATEGORIES:
        share = row.get(f"share_{c}", 0.0)
        out[f"share_{c}"] = _round_to(float(0.0 if pd.isna(share) else share), 1e-4)
    for name in ("walk_value", "bike_value"):
        mean = float(row[f"{name}_mean"]) if name in values else math.nan
        out[f"{name}_mean"] = _round_to(mean, step)
    return out


def _concat_zones(tables: list[pd.DataFrame]) -> pd.DataFrame:
    import geopandas as gpd

    from qet_geo.crs import WORK_CRS

    columns = [*_PUBLISHED, "merged"]
    if not tables:
        empty = gpd.GeoDataFrame(
            {c: [] for c in columns},
            geometry=gpd.GeoSeries([], crs=WORK_CRS),
            crs=WORK_CRS,
        )
        empty.index = pd.MultiIndex.from_tuples([], names=["question", "zone_id"])
        return empty
    out = gpd.GeoDataFrame(pd.concat(tables), geometry="geometry", crs=WORK_CRS)
    out["n_respondents"] = out["n_respondents"].astype("int64")
    # every piece passed require_protected: the assembled table carries their mark
    out.attrs.update(tables[0].attrs)
    return out


def _questions_table(done: set[str], lang: Lang) -> pd.DataFrame:
    rows = []
    for key, q in QUESTIONS.items():
        rows.append(
            {
                "question": key,
                "label": q.label.render(lang),
                "indicators": ", ".join(q.indicators),
                "unit": q.unit,
                "thresholds": ACCESS_THRESHOLDS[q.indicators[0]].why.render(lang),
                "compared": key in done,
            }
        )
    return pd.DataFrame.from_records(rows).set_index("question")
