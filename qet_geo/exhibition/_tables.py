"""The exhibition's tables: what the report shows and the diagnostic writes as CSV.

They are built from the typed results of the analysis (the footprints, the fitted profiles, the
access table, the :class:`~qet_geo.analysis.links.LinkReport`), never from serialised ones. Every
row is a protected aggregate: a profile of 1 to 10 answers is pooled, and the link figures are
those the link report publishes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypedDict, cast

import numpy as np
import pandas as pd

from qet_geo.i18n import Msg, join, msg

if TYPE_CHECKING:
    from qet_geo.analysis.links import LinkReport


class UsageRow(TypedDict):
    """A usage's mean footprint in the neighbourhood and in France (kgCO2e a year)."""

    label: str
    neighbourhood: float
    france: float


class ProfileRow(TypedDict):
    """A published profile (or pool of small profiles): share, size, description, footprint."""

    profile: str
    share_pct: float
    n: int
    description: str
    mean_kg: float


class ConstraintRow(TypedDict):
    """An amenity category: median walk time and share of homes within 15 minutes."""

    label: str
    median_min: float
    share_within_15: float


class ModelRow(TypedDict):
    """One effect of a built constraint on a usage: odds ratio, interval, unit, model AUC.

    ``indicator`` is the registry's name (the report shows its label); ``answer`` the answer
    modelled, in words ("Voiture individuelle"); ``n`` the answers the model rests on (None when
    withheld), ``n_bootstrap`` the bootstrap replicates, ``n_splits`` the cross-validation folds.
    """

    usage: str
    indicator: str
    odds_ratio: float | None
    low: float | None
    high: float | None
    unit: str
    auc: float | None
    answer: str
    n: int | None
    n_bootstrap: int | None
    n_splits: int | None


class MarginRow(TypedDict):
    """A scenario's saving per person a year, its interval and the share of homes it changes."""

    label: str
    saving: float | None
    low: float | None
    high: float | None
    share_homes: float | None


class VoteRow(TypedDict):
    """A theme of the vote and its reduction potential (kgCO2e per person a year).

    ``potential`` is what the neighbourhood would save if everyone moved to the usage's most
    sober level; it never exceeds ``footprint``, the usage's mean footprint. ``built`` is the part
    of it the best margin of manoeuvre (a built constraint lifted) would give.
    """

    usage: str
    theme: str
    footprint: float
    potential: float
    built: float


#: What each table of the exhibition holds, as the report's list of files names it.
TABLE_TITLES: Mapping[str, Msg] = {
    "footprints_by_usage": msg("Empreinte par usage"),
    "profiles": msg("Profils d'usages"),
    "constraints": msg("Temps à pied jusqu'aux équipements"),
    "links_models": msg("Liens entre contraintes et usages, chiffres de la méthode"),
    "margins_of_manoeuvre": msg("Marges de manœuvre"),
    "vote_themes": msg("Thèmes à mettre au vote"),
}


#: The tables made from the answers: their CSV files carry a ``synthetic`` column (True when the
#: answers are synthetic), the label that must follow the figures wherever the files go.
FROM_ANSWERS: frozenset[str] = frozenset(
    {"footprints_by_usage", "profiles", "links_models", "margins_of_manoeuvre", "vote_themes"}
)


@dataclass(frozen=True)
class ExhibitionTables:
    """The tables of the exhibition, in the order the diagnostic writes them."""

    footprints_by_usage: list[UsageRow]
    profiles: list[ProfileRow]
    constraints: list[ConstraintRow]
    links_models: list[ModelRow]
    margins_of_manoeuvre: list[MarginRow]
    vote_themes: list[VoteRow]

    def frames(self) -> dict[str, pd.DataFrame]:
        """Return each table as a DataFrame, by file name (without ``.csv``)."""
        return {f.name: pd.DataFrame(getattr(self, f.name)) for f in fields(self)}


def exhibition_tables(
    *,
    footprints: pd.DataFrame,
    ngc_scale: pd.DataFrame,
    profiles: Any,
    labels: pd.Series,
    access: pd.DataFrame,
    links: LinkReport,
    lang: str,
) -> ExhibitionTables:
    """Build the exhibition's tables from the analysis results.

    Parameters
    ----------
    footprints
        Footprints per answer (:func:`qet_geo.analysis.footprint.su_footprints`).
    ngc_scale
        The NosGestesClimat scale (:func:`qet_geo.analysis.footprint.read_ngc_scale`): the
        French averages and the lowest level of each usage.
    profiles, labels
        The fitted :class:`~qet_geo.analysis.profiles.UsageProfiles` and each answer's profile.
    access
        The walk access table of the homes.
    links
        The link report (:func:`qet_geo.analysis.links.link_report`).
    lang
        "fr" or "en".
    """
    from qet_geo.surveys.schema import USAGE_LABELS, USAGES

    usage_labels = {u: label.render(lang) for u, label in USAGE_LABELS.items()}
    french = ngc_scale.groupby("usage")["default_kgco2e"].first()
    usages: list[UsageRow] = [
        {
            "label": usage_labels[u],
            "neighbourhood": float(footprints[f"{u}_kgco2e"].mean()),
            "france": float(french.get(u, np.nan)),
        }
        for u in USAGES
    ]
    return ExhibitionTables(
        footprints_by_usage=usages,
        profiles=profile_rows(profiles, labels, footprints, lang),
        constraints=constraint_rows(access, lang),
        links_models=model_rows(links),
        margins_of_manoeuvre=margin_rows(links),
        vote_themes=vote_rows(footprints, ngc_scale, links, usage_labels),
    )


def _pairs(frame: pd.DataFrame) -> Iterator[tuple[str, str, pd.Series]]:
    """The rows of a table indexed by pairs, with the two keys as text."""
    for key, row in frame.iterrows():
        first, second = cast("tuple[Any, Any]", key)
        yield str(first), str(second), row


def _opt(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _count(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def profile_rows(
    model: Any, labels: pd.Series, footprints: pd.DataFrame, lang: str
) -> list[ProfileRow]:
    """Profiles with their share, size, description and mean footprint, publishable as is.

    A profile of 1 to 10 answers is never shown alone (privacy rule 2), nor left out (its size
    would follow from the total by subtraction): the small profiles are pooled into one "other
    profiles" row, and when that row is itself under 11 answers it joins the smallest
    publishable profile.
    """
    from qet_geo.privacy import MIN_RESPONDENTS

    described = model.to_dict(lang=lang)["profiles"]
    total_kg = footprints["total_kgco2e"]
    n_all = int(labels.notna().sum())
    big = [p for p in described if int(p.get("n_assigned", p["n"])) >= MIN_RESPONDENTS]
    small = [p for p in described if int(p.get("n_assigned", p["n"])) < MIN_RESPONDENTS]

    def row(profile: str, members: list[Any], description: str) -> ProfileRow:
        inside = labels.isin(members)
        n = int(inside.sum())
        return {
            "profile": profile,
            "share_pct": 100.0 * n / max(n_all, 1),
            "n": n,
            "description": description,
            "mean_kg": float(total_kg[inside[inside].index].mean()),
        }

    groups = [(str(p["profile"]), [p["profile"]], str(p["description"])) for p in big]
    if small:
        members = [p["profile"] for p in small]
        others = msg(
            "Autres profils (moins de {minimum} réponses chacun)", minimum=MIN_RESPONDENTS
        ).render(lang)
        n_small = int(labels.isin(members).sum())
        if n_small >= MIN_RESPONDENTS or not groups:
            groups.append(("+".join(map(str, members)), members, others))
        else:  # pool with the smallest publishable profile
            sizes = [int(labels.isin(g[1]).sum()) for g in groups]
            i = int(np.argmin(sizes))
            name, mem, desc = groups[i]
            groups[i] = (
                f"{name}+{'+'.join(map(str, members))}",
                mem + members,
                msg(
                    "{description} ; {others}",
                    description=desc,
                    # i18n: the pooled small profiles, after a description.
                    others=msg(
                        "autres profils (moins de {minimum} réponses chacun)",
                        minimum=MIN_RESPONDENTS,
                    ),
                ).render(lang),
            )
    return [row(*g) for g in groups]


def constraint_rows(access: pd.DataFrame, lang: str) -> list[ConstraintRow]:
    """Each amenity category measured: median time and share of homes within 15 minutes.

    Over the homes on the network: a home off it has no figures (its counts are 0 by
    convention, not a measure), and the report says how many there are.
    """
    from qet_geo.constraints.indicators import SCORE_MIN, nearest_min, reachable
    from qet_geo.taxonomy import CATEGORIES, CATEGORY_LABELS

    if "off_network" in access:
        access = access[~access["off_network"].astype(bool)]
    labels = {c: label.render(lang) for c, label in CATEGORY_LABELS.items()}
    return [
        {
            "label": labels[c],
            "median_min": float(access[nearest_min(c)].median()),
            "share_within_15": float((access[reachable(c, SCORE_MIN)] > 0).mean()),
        }
        for c in CATEGORIES
        if access[nearest_min(c)].notna().any()
    ]


def model_rows(links: LinkReport) -> list[ModelRow]:
    """The effects with a figure, of the usages that could be modelled.

    The answer modelled is the usage's highest-carbon level, as the link report's models take it
    (:func:`qet_geo.analysis.models.constraint_models`, level 3).
    """
    from qet_geo.surveys.schema import LEVEL_LABELS

    effects = links.effects
    modelled = set(effects.index.get_level_values("usage"))
    out: list[ModelRow] = []
    for usage, model in links.models.iterrows():
        if model["status"] not in ("ok", "unstable_intervals") or usage not in modelled:
            continue
        for indicator, effect in effects.xs(usage, level="usage").iterrows():
            if effect["status"] != "ok":
                continue
            out.append(
                {
                    "usage": str(model["label"]),
                    "indicator": str(indicator),
                    "odds_ratio": _opt(effect["odds_ratio"]),
                    "low": _opt(effect["odds_ratio_low"]),
                    "high": _opt(effect["odds_ratio_high"]),
                    "unit": str(effect["unit"]),
                    "auc": _opt(model["cv_auc"]),
                    "answer": LEVEL_LABELS[str(usage)][3].render(links.lang),
                    "n": _count(model.get("n")),
                    "n_bootstrap": _count(model.get("n_bootstrap")),
                    "n_splits": _count(model.get("n_splits")),
                }
            )
    return out


def margin_rows(links: LinkReport) -> list[MarginRow]:
    """The scenarios whose total saving could be estimated."""
    return [
        {
            "label": str(row["label"]),
            "saving": _opt(row["saving_kgco2e_per_person"]),
            "low": _opt(row["saving_kgco2e_per_person_low"]),
            "high": _opt(row["saving_kgco2e_per_person_high"]),
            "share_homes": _opt(row["share_homes_changed"]),
        }
        for _, usage, row in _pairs(links.margins)
        if usage == "all" and row["status"] == "ok"
    ]


def margins_left_out(links: LinkReport, lang: str) -> list[str]:
    """The scenarios the margins left out for lack of data, each with why, in words.

    :func:`qet_geo.analysis.margins.margins_of_manoeuvre` leaves out a scenario that needs data
    the run lacks (frequent stops without a GTFS timetable): its "all" row has the status
    ``left_out`` and names the indicators lacking, said in words by
    :data:`qet_geo.analysis.scenarios.MISSING_DATA` (else by their registry label); the table's
    ``attrs["left_out"]`` reason is used when it reaches here.
    """
    from qet_geo.analysis.scenarios import MISSING_DATA
    from qet_geo.constraints.indicators import INDICATORS

    reasons = links.margins.attrs.get("left_out", {})
    out: list[str] = []
    for scenario, usage, row in _pairs(links.margins):
        if usage != "all" or row.get("status") != "left_out":
            continue
        reason = reasons.get(scenario)
        if isinstance(reason, Msg):
            text = msg("« {label} » : {reason}", label=str(row["label"]), reason=reason)
        else:
            lacking = [
                MISSING_DATA.get(i) or (INDICATORS[i].label if i in INDICATORS else str(i))
                for i in row.get("ignored_indicators", ()) or ()
            ]
            text = msg(
                "« {label} » : scénario laissé de côté, faute de données : {missing}.",
                label=str(row["label"]),
                missing=join(lacking, msg(" ; ")),
            )
        out.append(text.render(lang))
    return out


def vote_rows(
    footprints: pd.DataFrame,
    ngc_scale: pd.DataFrame,
    links: LinkReport,
    labels: Mapping[str, str],
) -> list[VoteRow]:
    """Themes ranked by reduction potential: everyone at the usage's lowest level.

    The constraint margins are a part of that potential (lifting a constraint moves people to
    lower levels), not an addition to it: adding them counted the same kilograms twice and could
    show a potential larger than the footprint itself.
    """
    lowest = ngc_scale[ngc_scale["level"] == 1].set_index("usage")["kgco2e"]
    margin_by_usage: dict[str, float] = {}
    for _, usage, row in _pairs(links.margins):
        saving = row["saving_kgco2e_per_person"]
        if usage == "all" or row["status"] != "ok" or pd.isna(saving):
            continue
        margin_by_usage[usage] = max(margin_by_usage.get(usage, 0.0), float(saving))
    rows: list[VoteRow] = []
    for usage in lowest.index:
        mean = float(footprints[f"{usage}_kgco2e"].mean())
        potential = min(max(mean - float(lowest[usage]), 0.0), mean)
        built = min(margin_by_usage.get(usage, 0.0), potential)
        rows.append(
            {
                "usage": usage,
                "theme": labels[usage],
                "footprint": mean,
                "potential": potential,
                "built": built,
            }
        )
    return sorted(rows, key=lambda r: -r["potential"])
