"""The other surveys in the store: measured against perceived access, and NGC footprints.

Step 4 of the method uses all four surveys. Beside the SU answers (:mod:`qet_geo.store.releases`),
a diagnostic holds MdV/EdV answers ("modes de vie", "espaces de vie") and NosGestesClimat results
(:class:`qet_geo.store.models.SurveyAnswer`, kinds "mdv" and "ngc"). This module turns them into
the figures a release publishes, in one JSON-able, language-neutral dict
(:attr:`OtherFigures.figures`):

- ``mdv``: **measured against perceived access**
  (:func:`qet_geo.analysis.perceived.perceived_access`): for each MdV access question, the
  shares of the five :data:`~qet_geo.analysis.perceived.CATEGORIES` over the neighbourhood and
  per 200 m zone (cells pooled until each holds 11 compared answers or more, as the library
  does), and per usage domain (:data:`~qet_geo.analysis.perceived.DOMAINS`: food, work, leisure,
  getting about, goods, services) the two kinds of gap the method asks for: "l'offre existe mais
  n'est pas connue ou pas utilisée" and "l'offre manque";
- ``ngc``: the **mean NosGestesClimat footprint** per category and sub-category (kgCO2e per
  person and per year), each through :func:`qet_geo.privacy.safe_aggregate`: withheld under 11
  answers or when one respondent makes more than 85 % of the sum, as a release's footprints are.

A part, a question or a footprint that is not published carries a ``reason`` code
(:data:`REASONS`), never a count under 11. :attr:`OtherFigures.ids` gives, per part, the
respondents the published figures were computed over, for the differencing rule (rule 5 of
``docs/privacy.md``): empty when nothing of the part is published.

:func:`perceived_view` turns the figures into what ``api/web/templates/release_perceived.html``
shows, in French or English.

The figures
-----------
.. code-block:: text

    {"version": 1, "min_respondents": 11, "synthetic": bool,
     "mdv": {"status": "published" | "withheld" | "no_data", "reason": code | None,
             "synthetic": bool, "n_answers": int | None, "n_located": int | None,
             "categories": [...CATEGORIES],
             "questions": [{"question", "domain", "indicators", "unit", "status", "reason",
                            "n_respondents", "shares": {category: 0..1}, "walk_value_mean",
                            "bike_value_mean",
                            "zones": [{"zone_id", "merged", "n_respondents",
                                       "shares", "walk_value_mean", "bike_value_mean",
                                       "size_m" (200, or the pooled block's side),
                                       "geometry" (GeoJSON, WGS84)}]}],
             "domains": [{"domain", "questions" (published), "status", "reason",
                          "n_answers", "offer_unknown_or_unused", "offer_missing",
                          "main_gap": the larger kind when it is at least
                                      MAIN_GAP_MIN_SHARE of the answers, else None}]},
     "ngc": {"status", "reason", "synthetic", "n_respondents",
             "footprints": [{"key", "parent" (None for the total and the categories),
                             "status", "reason", "mean_kgco2e"}]}}
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qet_geo.analysis._publish import _count
from qet_geo.analysis.perceived import (
    ACCESS_THRESHOLDS,
    CATEGORIES,
    CATEGORY_LABELS,
    DOMAIN_LABELS,
    DOMAINS,
    QUESTIONS,
    perceived_access,
    question_states,
)
from qet_geo.i18n import Msg, msg, number
from qet_geo.privacy import MIN_RESPONDENTS, require_protected, safe_aggregate
from qet_geo.surveys.schema import NGC_CATEGORIES, NGC_SUBCATEGORIES

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "CATEGORY_EXPLAINED",
    "MAIN_GAP_MIN_SHARE",
    "REASONS",
    "OtherFigures",
    "ngc_figures",
    "other_surveys_figures",
    "perceived_figures",
    "perceived_view",
]

VERSION = 1

#: Share of a domain's compared answers from which a kind of gap is named its main gap.
MAIN_GAP_MIN_SHARE = 0.1

#: Why a part, a question, a domain or a footprint is not published, in words for residents.
REASONS: Mapping[str, Msg] = {
    "no_answers": msg("Aucune réponse n'a été déposée pour cette enquête."),
    "no_extract": msg(
        "Le quartier n'a pas encore d'extrait cartographique analysé : l'accès mesuré depuis "
        "les logements manque pour être comparé aux réponses."
    ),
    "too_few_answers": msg(
        "Moins de {k} réponses : les règles de confidentialité interdisent de publier un "
        "chiffre qui pourrait désigner quelqu'un.",
        k=MIN_RESPONDENTS,
    ),
    "too_few_located": msg(
        "Moins de {k} réponses rattachées à un bâtiment du quartier : l'accès mesuré ne peut "
        "pas être mis en regard sans risquer de désigner quelqu'un. Si les réponses ont été "
        "déposées avant l'extrait cartographique du quartier, déposez-les à nouveau : elles "
        "seront alors rattachées aux bâtiments.",
        k=MIN_RESPONDENTS,
    ),
    "not_answered": msg("Cette question ne figure pas dans les réponses déposées."),
    "not_measured": msg(
        "Aucun logement n'atteint cette offre dans l'extrait cartographique : elle est peut-être "
        "hors de l'extrait, la comparaison serait trompeuse."
    ),
    "no_compared_answers": msg(
        "Aucune réponse à cette question ne vient d'un logement localisé dans le quartier."
    ),
    "withheld": msg(
        "Réponses trop peu nombreuses ou trop uniformes : les publier révélerait la réponse de "
        "moins de {k} personnes (règles 2 et 3 de confidentialité).",
        k=MIN_RESPONDENTS,
    ),
    "nothing_publishable": msg(
        "Aucune question ne réunit assez de réponses variées pour être publiée sans risquer de "
        "désigner quelqu'un."
    ),
    "one_dominates": msg(
        "Une seule personne pèse plus de 85 % du total : la moyenne révélerait son empreinte."
    ),
    "secondary": msg(
        "Retenu avec une autre catégorie : le total étant la somme des catégories, la "
        "catégorie retenue se déduirait sinon par soustraction."
    ),
    # set by the release (qet_geo.store.releases), rule 5
    "release_difference": msg(
        "Ces réponses diffèrent de celles d'une publication précédente de 1 à {n} personnes : "
        "comparer les deux publications révélerait leurs réponses. Cette partie sera publiée "
        "quand l'écart atteindra au moins {k} personnes.",
        n=MIN_RESPONDENTS - 1,
        k=MIN_RESPONDENTS,
    ),
}
_UNKNOWN_REASON = msg("Non publié en vertu des règles de confidentialité.")

_PART_STATUS = ("published", "withheld", "no_data")


@dataclass(frozen=True)
class OtherFigures:
    """The published figures of the MdV/EdV and NGC surveys of a diagnostic.

    Attributes
    ----------
    figures
        JSON-able and language-neutral (see the module docstring): ``mdv`` and ``ngc`` parts,
        each with its ``status`` and, when not published, its ``reason`` (:data:`REASONS`).
    ids
        ``{"mdv": [...], "ngc": [...]}``: the respondents each part's published figures were
        computed over, for rule 5 (a release's sets differ by 0 or at least 11): every MdV
        answer (the published counts are over all of them), every NGC respondent with a total
        footprint. Each is a
        :func:`~qet_geo.store.releases.respondent_key` of the pseudonym, the 200 m cell and
        the answers (the building for MdV), so that a changed answer counts as one respondent
        who left and one who came, as for the SU respondents. Empty when nothing is published.
    """

    figures: dict[str, Any]
    ids: dict[str, list[str]] = field(default_factory=lambda: {"mdv": [], "ngc": []})


# --------------------------------------------------------------------------------------------------
# the store


def other_surveys_figures(
    session: Session,
    diagnostic_id: int,
    *,
    walk: pd.DataFrame | None,
    bike: pd.DataFrame | None,
) -> OtherFigures:
    """Compute the published figures of a diagnostic's stored MdV/EdV and NGC answers.

    Parameters
    ----------
    session
        An open session of the store.
    diagnostic_id
        The diagnostic whose answers are read
        (:func:`qet_geo.store.ingest.survey_frame`, kinds "mdv" and "ngc").
    walk, bike
        Access per home on foot and by bike (:func:`qet_geo.constraints.access.
        neighbourhood_access`, indexed by building key); None when the neighbourhood has no
        analysed extract (``walk``; the MdV part is then "no_data", reason "no_extract") or
        no bike network (``bike``).

    Returns
    -------
    OtherFigures
        The figures and the respondents they were computed over.
    """
    from qet_geo.store.ingest import survey_frame

    mdv, mdv_ids = perceived_figures(survey_frame(session, diagnostic_id, "mdv"), walk, bike)
    ngc, ngc_ids = ngc_figures(survey_frame(session, diagnostic_id, "ngc"))
    return OtherFigures(
        figures=_assemble(mdv, ngc),
        ids={"mdv": mdv_ids, "ngc": ngc_ids},
    )


def _assemble(mdv: dict[str, Any], ngc: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": VERSION,
        "min_respondents": MIN_RESPONDENTS,
        "synthetic": bool(mdv.get("synthetic")) or bool(ngc.get("synthetic")),
        "mdv": mdv,
        "ngc": ngc,
    }


def _synthetic(frame: pd.DataFrame) -> bool:
    if bool(frame.attrs.get("synthetic", False)):
        return True
    if "synthetic" in frame.columns and len(frame):
        return bool(frame["synthetic"].fillna(False).astype(bool).all())
    return False


def _keys(frame: pd.DataFrame, *, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """Each respondent's release key: its pseudonym, cell and answers (see :class:`OtherFigures`)."""
    # the store's own key, imported here: releases imports this module in turn
    from qet_geo.store.releases import respondent_key

    columns = [c for c in frame.columns if c not in {"cell_id", "synthetic", *drop}]
    cells = frame["cell_id"] if "cell_id" in frame.columns else pd.Series(None, index=frame.index)
    out = {}
    for (pid, row), cell in zip(frame[columns].iterrows(), cells, strict=True):
        answers = {c: _plain(v) for c, v in row.items()}
        out[str(pid)] = respondent_key(str(pid), _plain(cell), answers, None, None)
    return out


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


# --------------------------------------------------------------------------------------------------
# measured against perceived access


def _part(status: str, reason: str | None, **more: Any) -> dict[str, Any]:
    return {"status": status, "reason": reason, **more}


def perceived_figures(
    answers: pd.DataFrame | None,
    walk: pd.DataFrame | None,
    bike: pd.DataFrame | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Publish measured against perceived access from located MdV answers.

    Parameters
    ----------
    answers
        Located MdV answers, as :func:`qet_geo.analysis.perceived.read_located_mdv` gives them
        (or the store's ``survey_frame(session, id, "mdv")``): indexed by respondent, the
        question columns, ``building_key``, ``cell_id``, ``synthetic``. None or empty: no data.
    walk, bike
        Access per home, as for :func:`other_surveys_figures`.

    Returns
    -------
    tuple
        The ``mdv`` part of the figures (module docstring) and the release keys of every answer
        (the published counts are over all of them; empty when nothing is published).
    """
    if answers is None or answers.empty:
        return _part("no_data", "no_answers", synthetic=False), []
    synthetic = _synthetic(answers)
    n_answers = _count(len(answers))
    base = {"synthetic": synthetic, "n_answers": n_answers, "categories": list(CATEGORIES)}
    if walk is None:
        return _part("no_data", "no_extract", **base), []
    if n_answers is None:
        return _part("withheld", "too_few_answers", **base), []
    located = answers["building_key"].notna() if "building_key" in answers.columns else None
    if located is None or int(located.sum()) < MIN_RESPONDENTS:
        base["n_located"] = None
        return _part("withheld", "too_few_located", **base), []
    with warnings.catch_warnings():
        # what the library warns of (not measured, withheld) is said by the reason codes
        warnings.simplefilter("ignore")
        states = question_states(answers, walk)
        published = perceived_access(answers, walk, bike_access=bike)
    base["n_located"] = published.n_located
    data = published.to_dict()
    zones: dict[str, list[dict[str, Any]]] = {}
    for z in data["zones"]:
        zones.setdefault(z["question"], []).append(_zone(z))
    hood = {row["question"]: row for row in data["neighbourhood"]}
    questions = []
    for key, q in QUESTIONS.items():
        entry: dict[str, Any] = {
            "question": key,
            "domain": _domain_of(key),
            "indicators": list(q.indicators),
            "unit": q.unit,
        }
        row = hood.get(key)
        if states[key] != "comparable":
            entry.update(status="no_data", reason=states[key])
        elif row is None:
            entry.update(status="no_data", reason="no_compared_answers")
        elif row["n_respondents"] is None:
            entry.update(status="withheld", reason="withheld")
        else:
            entry.update(status="published", reason=None, **_shares_of(row))
            entry["zones"] = zones.get(key, [])
        questions.append(entry)
    done = [q["question"] for q in questions if q["status"] == "published"]
    if not done:
        return _part("withheld", "nothing_publishable", **base, questions=questions), []
    domains = [_domain(d, keys, questions) for d, keys in DOMAINS.items()]
    # every answer: the published counts (n_answers, n_located) are over all of them
    ids = sorted(_keys(answers).values())
    return _part("published", None, **base, questions=questions, domains=domains), ids


def _domain_of(key: str) -> str:
    return next(d for d, keys in DOMAINS.items() if key in keys)


def _shares_of(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "n_respondents": int(row["n_respondents"]),
        "shares": {c: row[f"share_{c}"] for c in CATEGORIES},
        "walk_value_mean": row["walk_value_mean"],
        "bike_value_mean": row["bike_value_mean"],
    }


def _zone(z: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "zone_id": z["zone_id"],
        "size_m": _size_m(str(z["zone_id"])),
        "merged": bool(z["merged"]),
        **_shares_of(z),
        "geometry": z.get("geometry"),
    }


def _size_m(zone_id: str) -> int | None:
    """The side of a published zone's largest grid cell (200 m, or the pooled 400 m to 3 200 m)."""
    sizes = [int(m) for m in re.findall(r"RES(\d+)m", zone_id)]
    return max(sizes) if sizes else None


def _domain(domain: str, keys: tuple[str, ...], questions: list[dict[str, Any]]) -> dict[str, Any]:
    """The two kinds of gap over a domain's published questions.

    Only published rows enter (each of 11 compared answers or more): the domain's shares are
    their answer-weighted means, which anyone can recompute from them, so they reveal nothing
    more. ``n_answers`` counts compared answers (one person answering three questions of the
    domain counts three times), not people.
    """
    rows = [q for q in questions if q["question"] in keys and q["status"] == "published"]
    out: dict[str, Any] = {"domain": domain, "questions": [q["question"] for q in rows]}
    if not rows:
        answered = any(q["question"] in keys and q["status"] == "withheld" for q in questions)
        out.update(status="withheld" if answered else "no_data")
        out["reason"] = "withheld" if answered else _first_reason(keys, questions)
        return out
    n = sum(q["n_respondents"] for q in rows)
    gaps = {}
    for c in ("offer_unknown_or_unused", "offer_missing"):
        total = sum((q["shares"][c] or 0.0) * q["n_respondents"] for q in rows)
        gaps[c] = round(total / n, 4)
    larger = max(gaps, key=lambda c: gaps[c])
    tie = gaps["offer_missing"] == gaps["offer_unknown_or_unused"]
    main = None if gaps[larger] < MAIN_GAP_MIN_SHARE or tie else larger
    out.update(status="published", reason=None, n_answers=n, **gaps, main_gap=main)
    return out


def _first_reason(keys: tuple[str, ...], questions: list[dict[str, Any]]) -> str:
    reasons = [q["reason"] for q in questions if q["question"] in keys and q["reason"]]
    return reasons[0] if reasons else "not_answered"


# --------------------------------------------------------------------------------------------------
# NosGestesClimat footprints

_NGC_KEYS: tuple[tuple[str, str | None], ...] = (
    ("total", None),
    *((c, None) for c in NGC_CATEGORIES),
    *NGC_SUBCATEGORIES.items(),
)


def ngc_figures(frame: pd.DataFrame | None) -> tuple[dict[str, Any], list[str]]:
    """Publish the mean NosGestesClimat footprint per category, through the privacy chokepoint.

    Parameters
    ----------
    frame
        NGC results per respondent in kgCO2e per year, as
        :func:`qet_geo.analysis.footprint.read_ngc_results` gives them (or the store's
        ``survey_frame(session, id, "ngc")``): ``total``, the categories and sub-categories of
        :data:`~qet_geo.surveys.schema.NGC_COLUMNS`. None or empty: no data.

    Returns
    -------
    tuple
        The ``ngc`` part of the figures (module docstring) and the release keys of the
        respondents with a total (empty when nothing is published).

    Notes
    -----
    The set is the respondents with a total footprint (the sum of the five categories when the
    file has no total). Each figure is its own :func:`~qet_geo.privacy.safe_aggregate` over the
    set: a mean is withheld ("too_few_answers") when fewer than 11 of them give the category,
    and ("one_dominates") when one respondent makes more than 85 % of its sum, as a release's
    footprints are. The total and the five categories add up, so they are published together
    or not at all ("secondary": withheld so that the other cannot be had by subtraction); a
    sub-category (flights, car...) is a part of its category beside an unpublished rest, so it
    is withheld alone.
    """
    if frame is None or frame.empty:
        return _part("no_data", "no_answers", synthetic=False), []
    synthetic = _synthetic(frame)
    data = frame.copy()
    for key, _ in _NGC_KEYS:
        data[key] = pd.to_numeric(data[key], errors="coerce") if key in data.columns else np.nan
    if data["total"].isna().all():
        data["total"] = data[list(NGC_CATEGORIES)].sum(axis=1, min_count=len(NGC_CATEGORIES))
    chosen = data[data["total"].notna()]
    n = _count(len(chosen))
    base = {"synthetic": synthetic, "n_respondents": n}
    if n is None:
        return _part("withheld", "too_few_answers", **base), []
    footprints = []
    for key, parent in _NGC_KEYS:
        item: dict[str, Any] = {"key": key, "parent": parent}
        given = chosen[key].dropna()
        if given.empty and key != "total":
            continue  # the export has no such column: nothing to say
        mean = _safe_mean(given) if len(given) >= MIN_RESPONDENTS else None
        if len(given) < MIN_RESPONDENTS:
            item.update(status="withheld", reason="too_few_answers", mean_kgco2e=None)
        elif mean is None:
            item.update(status="withheld", reason="one_dominates", mean_kgco2e=None)
        else:
            item.update(status="published", reason=None, mean_kgco2e=mean)
        footprints.append(item)
    # the total is the sum of the five categories: one of the six withheld alone would come
    # back by subtraction, so they are published together or not at all (as a release's)
    group = [f for f in footprints if f["parent"] is None]
    if any(f["status"] != "published" for f in group):
        for f in group:
            if f["status"] == "published":
                f.update(status="withheld", reason="secondary", mean_kgco2e=None)
    if not any(f["status"] == "published" for f in footprints):
        return _part("withheld", "nothing_publishable", **base, footprints=footprints), []
    keys = _keys(chosen[[k for k, _ in _NGC_KEYS if k in frame.columns]])
    return _part("published", None, **base, footprints=footprints), sorted(keys.values())


def _safe_mean(values: pd.Series) -> float | None:
    """The mean of one footprint through the chokepoint; None when it may not be published."""
    whole = pd.DataFrame({"zone": "quartier", "value": values.astype(float).to_numpy()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = safe_aggregate(whole, zone="zone", values=["value"], leftover="suppress")
    require_protected(table, what="the NosGestesClimat footprints")
    if table.empty or int(table["n_respondents"].iloc[0]) != len(whole):
        return None
    mean = float(table["value_mean"].iloc[0])
    return None if math.isnan(mean) else round(mean, 1)


# --------------------------------------------------------------------------------------------------
# the view

#: What each category means, in plain words for residents and pilot teams.
CATEGORY_EXPLAINED: Mapping[str, Msg] = {
    "offer_unknown_or_unused": msg(
        "Le plan des rues montre une offre proche (10 minutes ou moins), mais la personne la "
        "juge insuffisante, ne sait pas, ou fait le trajet en voiture. Piste d'action : faire "
        "connaître l'offre, la rendre plus accueillante ou plus sûre d'accès."
    ),
    "offer_missing": msg(
        "Le plan des rues ne montre aucune offre proche (plus de 15 minutes, ou rien à 5 km) et "
        "la personne la juge insuffisante elle aussi. Piste d'action : créer ou rapprocher "
        "l'offre."
    ),
    "agree_good": msg("L'offre est proche et la personne en est satisfaite."),
    "perceived_better": msg(
        "La personne est satisfaite alors qu'aucune offre proche n'est mesurée : elle trouve "
        "ailleurs ce qu'il lui faut (hors de la carte, en voiture, au travail)."
    ),
    "undecided": msg(
        "La mesure ou la réponse est entre les deux (de 10 à 15 minutes, un trajet de 10 à 20 "
        "minutes) : pas de verdict."
    ),
}


@lru_cache(maxsize=4096)
def _num(value: float, decimals: int, lang: str) -> str:
    """A number in the reader's format (cached: a page shows the same shares many times)."""
    return number(value, decimals=decimals).render(lang)


def _pct(share: float | None, lang: str) -> str:
    return "–" if share is None else _num(round(100 * share, 1), 1, lang) + " %"


def _value(value: float | None, unit: str, lang: str) -> str:
    if value is None:
        return "–"
    # short: the question's "what is measured" says the unit in words
    if unit == "share":
        return msg("{value} %", value=_num(round(100 * value), 0, lang)).render(lang)
    if unit == "km":
        return msg("{value} km", value=_num(round(value, 1), 1, lang)).render(lang)
    return msg("{value} min", value=_num(round(value, 1), 1, lang)).render(lang)


def _reason(code: str | None, lang: str) -> str | None:
    if code is None:
        return None
    return REASONS.get(code, _UNKNOWN_REASON).render(lang)


def _why(label: str, reason: str | None, lang: str) -> str:
    return msg("{label} : {reason}", label=label, reason=reason or "").render(lang)


#: Where a zone lies in the neighbourhood, for residents who cannot read a grid cell's code.
_SIDES: Mapping[str, Msg] = {
    "centre": msg("au centre"),
    "n": msg("au nord"),
    "ne": msg("au nord-est"),
    "e": msg("à l'est"),
    "se": msg("au sud-est"),
    "s": msg("au sud"),
    "sw": msg("au sud-ouest"),
    "w": msg("à l'ouest"),
    "nw": msg("au nord-ouest"),
}


def _sides(zones: Sequence[Mapping[str, Any]]) -> list[str | None]:
    """Each zone's side of the neighbourhood (8 directions, or the centre) from its geometry.

    Relative to the middle of the zones' centres; a zone closer to it than a third of the
    farthest one is "centre". None without geometry.
    """
    import shapely.geometry

    centres: list[tuple[float, float] | None] = []
    for z in zones:
        geom = z.get("geometry")
        try:
            point = shapely.geometry.shape(geom).centroid if geom else None
        except (TypeError, ValueError, AttributeError, KeyError):
            point = None
        centres.append(None if point is None or point.is_empty else (point.x, point.y))
    known = [c for c in centres if c is not None]
    if len(known) < 2:
        return [None] * len(zones)
    # degrees of longitude shrink with latitude: compare in local metres
    lat0 = sum(c[1] for c in known) / len(known)
    scale = math.cos(math.radians(lat0))
    lon0 = sum(c[0] for c in known) / len(known)
    far = max(math.hypot((c[0] - lon0) * scale, c[1] - lat0) for c in known)
    names = ("e", "ne", "n", "nw", "w", "sw", "s", "se")
    out: list[str | None] = []
    for c in centres:
        if c is None:
            out.append(None)
            continue
        dx, dy = (c[0] - lon0) * scale, c[1] - lat0
        if far == 0 or math.hypot(dx, dy) < far / 3:
            out.append("centre")
            continue
        angle = math.degrees(math.atan2(dy, dx)) % 360
        out.append(names[int(((angle + 22.5) % 360) // 45)])
    return out


def _zone_row(
    i: int, zone: Mapping[str, Any], unit: str, lang: str, side: str | None = None
) -> dict[str, Any]:
    name, where = _zone_name(i, zone, lang)
    if side is not None:
        name = msg("{zone} ({side})", zone=name, side=_SIDES[side]).render(lang)
    return {
        "name": name,
        "where": where,
        "n": _num(round(zone["n_respondents"]), 0, lang),
        "shares": [_pct(zone["shares"].get(c), lang) for c in CATEGORIES],
        "walk": _value(zone.get("walk_value_mean"), unit, lang),
    }


def _zone_name(i: int, zone: Mapping[str, Any], lang: str) -> tuple[str, str]:
    name = msg("Zone {i}", i=i).render(lang)
    size = zone.get("size_m")
    if size is None or size <= 200:
        where = msg("carreau de 200 m").render(lang)
    else:
        where = msg(
            "carreaux de 200 m regroupés sur {size} m", size=number(size, decimals=0)
        ).render(lang)
    if zone.get("merged") and size is not None and size <= 200:
        where = msg("carreaux voisins regroupés").render(lang)
    return name, where


def perceived_view(figures: Mapping[str, Any] | None, lang: str) -> dict[str, Any] | None:
    """Turn :attr:`OtherFigures.figures` into what ``release_perceived.html`` shows.

    Parameters
    ----------
    figures
        The figures (as a release stores them); None for none (a release made before the other
        surveys were stored). The view is then None, as when neither survey has answers, and the
        template says in one sentence that there is nothing, and where to upload them.
    lang
        "fr" or "en".

    Returns
    -------
    dict or None
        ``synthetic``; ``mdv``: ``status``, ``reason`` (words or None), ``n_answers``,
        ``n_located``, ``categories`` (``key``, ``label``, ``explained``), ``domains``
        (``label``, ``unknown``, ``missing`` in %, ``n``, ``main`` in words, ``reason``),
        ``questions`` (``label``, ``measured``, ``thresholds``, ``n``, ``shares`` in %, ``walk``,
        ``bike``, ``reason``, ``zones``: ``name``, ``where``, ``n``, ``shares``, ``walk``),
        ``withheld`` (what was not published and why, in words); ``ngc``: ``status``,
        ``reason``, ``n``, ``rows`` (``label``, ``value``, ``sub``, ``reason``), ``withheld``.
    """
    from qet_geo.constraints.indicators import INDICATORS

    if not figures:
        return None
    lang = "en" if lang == "en" else "fr"
    mdv = dict(figures.get("mdv") or {"status": "no_data", "reason": "no_answers"})
    ngc = dict(figures.get("ngc") or {"status": "no_data", "reason": "no_answers"})
    if all(p.get("reason") == "no_answers" for p in (mdv, ngc)):
        return None  # neither survey was uploaded: the template's one sentence says so
    withheld: list[str] = []  # the MdV part's
    ngc_withheld: list[str] = []
    categories = [
        {
            "key": c,
            "label": CATEGORY_LABELS[c].render(lang),
            "explained": CATEGORY_EXPLAINED[c].render(lang),
        }
        for c in CATEGORIES
    ]
    questions = []
    for q in mdv.get("questions", []):
        key = q["question"]
        if key not in QUESTIONS:
            continue
        spec = QUESTIONS[key]
        label = spec.label.render(lang)
        measured = ", ".join(
            INDICATORS[i].label.render(lang) if i in INDICATORS else i for i in q["indicators"]
        )
        row: dict[str, Any] = {
            "label": label,
            "measured": measured,
            "thresholds": ACCESS_THRESHOLDS[spec.indicators[0]].why.render(lang),
            "status": q["status"],
            "reason": _reason(q.get("reason"), lang),
        }
        if q["status"] == "published":
            row.update(
                n=_num(round(q["n_respondents"]), 0, lang),
                shares=[_pct(q["shares"].get(c), lang) for c in CATEGORIES],
                walk=_value(q.get("walk_value_mean"), spec.unit, lang),
                bike=_value(q.get("bike_value_mean"), spec.unit, lang),
                zones=[
                    _zone_row(i, z, spec.unit, lang, side)
                    for i, (z, side) in enumerate(
                        zip(q.get("zones", []), _sides(q.get("zones", [])), strict=True), start=1
                    )
                ],
            )
        elif q["status"] == "withheld":
            withheld.append(_why(label, row["reason"], lang))
        questions.append(row)
    domains = []
    for d in mdv.get("domains", []):
        if d.get("domain") not in DOMAIN_LABELS:
            continue
        entry: dict[str, Any] = {
            "label": DOMAIN_LABELS[d["domain"]].render(lang),
            "status": d["status"],
            "reason": _reason(d.get("reason"), lang),
        }
        if d["status"] == "published":
            main = d.get("main_gap")
            entry.update(
                unknown=_pct(d["offer_unknown_or_unused"], lang),
                missing=_pct(d["offer_missing"], lang),
                n=_num(round(d["n_answers"]), 0, lang),
                main=CATEGORY_LABELS[main].render(lang)
                if main in CATEGORY_LABELS
                else msg("pas d'écart marqué").render(lang),
            )
        domains.append(entry)
    rows = []
    for f in ngc.get("footprints", []):
        if f["key"] not in _NGC_LABELS:
            continue
        row = {
            "label": _NGC_LABELS[f["key"]].render(lang),
            "sub": f.get("parent") is not None,
            "status": f["status"],
            "value": "–"
            if f.get("mean_kgco2e") is None
            else _num(round(f["mean_kgco2e"]), 0, lang),
            "reason": _reason(f.get("reason"), lang),
        }
        if f["status"] != "published":
            ngc_withheld.append(_why(row["label"], row["reason"], lang))
        rows.append(row)

    def count(value: Any) -> str | None:
        return None if value is None else _num(round(value), 0, lang)

    return {
        "synthetic": bool(figures.get("synthetic")),
        "min_respondents": int(figures.get("min_respondents", MIN_RESPONDENTS)),
        "mdv": {
            "status": mdv.get("status", "no_data"),
            "reason": _reason(mdv.get("reason"), lang),
            "n_answers": count(mdv.get("n_answers")),
            "n_located": count(mdv.get("n_located")),
            "categories": categories,
            "domains": domains,
            "questions": questions,
            "withheld": [w for w in withheld if w],
        },
        "ngc": {
            "status": ngc.get("status", "no_data"),
            "reason": _reason(ngc.get("reason"), lang),
            "n": count(ngc.get("n_respondents")),
            "rows": rows,
            "withheld": [w for w in ngc_withheld if w],
        },
    }


_NGC_LABELS: Mapping[str, Msg] = {
    "total": msg("Empreinte totale"),
    "alimentation": msg("Alimentation"),
    "transport": msg("Transport"),
    "logement": msg("Logement"),
    "divers": msg("Divers (achats, numérique, loisirs)"),
    "services_societaux": msg("Services publics et marchands"),
    "transport_avion": msg("dont avion"),
    "transport_voiture": msg("dont voiture"),
    "transport_commun": msg("dont transports en commun"),
    "logement_chauffage": msg("dont chauffage"),
    "divers_numerique": msg("dont numérique"),
    "divers_textile": msg("dont textile"),
}
