"""The link report: where usage profiles meet the built constraints of their homes.

The QeT method holds the residents' usages (the SU survey) against the built constraints of their
homes (``docs/method.md``, "Built constraints"): daily mobility against transit distance and
frequency, the cycle network, slope, street intersections and the time to daily needs; food
against the time to food shops and markets; purchases against second-hand and repair shops and
local shops; flying against the time to a railway station; heating against the building. Located
SU answers (:func:`qet_geo.surveys.located.read_located_answers`) get their home's indicators
(:mod:`~qet_geo.analysis.homes`), then three analyses run on them:

1. :mod:`~qet_geo.analysis.constraint_profiles`: for each usage profile (Profil d'Usages), the
   distribution of its members' home indicators;
2. :mod:`~qet_geo.analysis.models`: for each usage, a logistic regression of its highest-carbon
   level on the constraints of the method's table, with home-bootstrap intervals and
   cross-validated scores;
3. :mod:`~qet_geo.analysis.margins`: the kgCO2e a year the neighbourhood would save if a
   constraint were lifted (:mod:`~qet_geo.analysis.scenarios`).

:func:`link_report` runs the three and returns a :class:`LinkReport`: the protected aggregates
as published, one table per section. The diagnostic and ``qet links`` read it directly;
:meth:`LinkReport.to_dict` gives the JSON that ``qet links`` writes.

These are associations, not causal effects (residents choose where they live).

Privacy
-------
Answers tied to a home are personal data: the joined table stays inside the store. Every table
of a :class:`LinkReport` passed :func:`qet_geo.privacy.require_protected`; counts of fewer than
11 are withheld, and so are counts that would give such a count by difference.

Examples
--------
>>> access = neighbourhood_access(layers, mode="walk")  # doctest: +SKIP
>>> report = link_report(answers, access, profiles=UsageProfiles().fit(answers))  # doctest: +SKIP
>>> report.effects.loc[("transportation_mode", "transit_stop_m"), "odds_ratio"]  # doctest: +SKIP
>>> json.dumps(report.to_dict())  # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd

from qet_geo.analysis._publish import _count, _round_to, _weighted_quantiles
from qet_geo.analysis.constraint_profiles import profile_constraints
from qet_geo.analysis.homes import _checked_columns, join_constraints
from qet_geo.analysis.margins import MARGIN_FIGURES, margins_of_manoeuvre
from qet_geo.analysis.models import ConstraintModels, constraint_models
from qet_geo.analysis.scenarios import DEFAULT_SCENARIOS, Scenario
from qet_geo.constraints.indicators import PROFILE_INDICATORS, USAGE_CONSTRAINTS, indicator_unit
from qet_geo.errors import ValidationError
from qet_geo.i18n import Lang, msg
from qet_geo.privacy import MIN_RESPONDENTS, require_protected

if TYPE_CHECKING:
    from qet_geo.analysis.profiles import UsageProfiles

__all__ = ["LinkReport", "link_report", "link_reports"]

_STATS = ("mean", "q25", "median", "q75")
_CV = {
    "n_splits": "n_splits",
    "auc": "cv_auc",
    "auc_sd": "cv_auc_sd",
    "log_loss": "cv_log_loss",
    "baseline_auc": "baseline_auc",
    "baseline_log_loss": "baseline_log_loss",
    "log_loss_gain": "log_loss_gain",
}
_EFFECT_FIGURES = (
    "odds_ratio",
    "odds_ratio_low",
    "odds_ratio_high",
    "odds_ratio_per_sd",
    "odds_ratio_per_sd_low",
    "odds_ratio_per_sd_high",
    "sd",
)
_SCENARIO_COLUMNS = ("label", "share_homes_changed", "ignored_indicators", "population")


@dataclass(frozen=True, eq=False)
class LinkReport:
    """The protected aggregates of :func:`link_report`, as published.

    Every figure is rounded as it is published (odds ratios and shares to 4 decimals, savings per
    person to 2, totals in tCO2e to 3, indicator summaries to the indicator's publication step);
    a figure that cannot be given is NaN, a count that cannot be given ``<NA>``.

    Attributes
    ----------
    synthetic
        Whether the answers are labelled synthetic (a demonstration, not a survey).
    n_answers, n_located
        Answers, and answers whose home was found; None under 11.
    scale
        The kgCO2e scale of the margins: "near", "ngc" or "custom".
    lang
        "fr" or "en": the language of labels, units, outcomes and notes.
    profiles
        None when no profiles were given; else one row per published group of
        :func:`~qet_geo.analysis.constraint_profiles.profile_constraints` (index ``group``: a
        profile label, labels joined by "+" when merged): ``profiles`` (tuple of its profiles),
        ``merged``, ``n`` (members; ``<NA>`` when withheld), ``descriptions`` (tuple).
    profile_indicators
        None without profiles; else one row per (``group``, ``indicator``): ``n`` (members with
        a value), ``mean``, ``q25``, ``median``, ``q75``.
    suppressed_profiles, merged_profiles
        The profiles that could not be published alone.
    neighbourhood
        The same indicators over every home (OSM-derived, no respondent data), index
        ``indicator``: ``homes`` (with a value), ``mean``, ``q25``, ``median``, ``q75``.
    n_homes
        Homes of the access table.
    models
        One row per ``usage``: ``label``, ``outcome`` (the level modelled, in words), ``status``,
        ``n``, ``n_splits``, ``cv_auc``, ``cv_auc_sd``, ``cv_log_loss``, ``baseline_auc``,
        ``baseline_log_loss``, ``log_loss_gain``, ``n_bootstrap``
        (:class:`~qet_geo.analysis.models.ConstraintModels`).
    effects
        One row per (``usage``, ``indicator``): ``status``, ``unit`` (in words), ``odds_ratio``
        with ``_low``/``_high``, ``odds_ratio_per_sd`` with ``_low``/``_high``, ``sd``.
    margins
        One row per (``scenario``, ``usage``), usage "all" the total over the usages:
        ``label``, ``share_homes_changed``, ``ignored_indicators`` (tuple), ``population``,
        ``status``, ``baseline_kgco2e_per_person``, ``saving_kgco2e_per_person`` with
        ``_low``/``_high``, ``saving_tco2e`` with ``_low``/``_high``
        (:func:`~qet_geo.analysis.margins.margins_of_manoeuvre`).
    notes
        What a reader must know (synthetic answers, associations not causes).
    """

    synthetic: bool
    n_answers: int | None
    n_located: int | None
    scale: str
    lang: Lang
    profiles: pd.DataFrame | None
    profile_indicators: pd.DataFrame | None
    suppressed_profiles: tuple[str, ...]
    merged_profiles: tuple[str, ...]
    neighbourhood: pd.DataFrame
    n_homes: int
    models: pd.DataFrame
    effects: pd.DataFrame
    margins: pd.DataFrame
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready nested dicts (None for any missing figure or count).

        The keys: ``synthetic``, ``n_answers``, ``n_located``, ``scale``, ``notes``,
        ``profiles`` (only with profiles: ``groups``, ``suppressed_profiles``,
        ``merged_profiles``), ``neighbourhood`` (``homes``, ``indicators``), ``models`` (one
        entry per usage, with its ``cv`` scores and ``effects``) and ``margins`` (one entry per
        scenario: the total and its ``usages``).
        """
        out: dict[str, Any] = {
            "synthetic": self.synthetic,
            "n_answers": self.n_answers,
            "n_located": self.n_located,
            "scale": self.scale,
            "notes": list(self.notes),
        }
        if self.profiles is not None and self.profile_indicators is not None:
            out["profiles"] = _profiles_dict(
                self.profiles,
                self.profile_indicators,
                self.suppressed_profiles,
                self.merged_profiles,
            )
        out["neighbourhood"] = {
            "homes": self.n_homes,
            "indicators": {
                str(ind): {"homes": int(row["homes"]), **{k: _float(row[k]) for k in _STATS}}
                for ind, row in self.neighbourhood.iterrows()
            },
        }
        out["models"] = _models_dict(self.models, self.effects)
        out["margins"] = _margins_dict(self.margins)
        return out


def _pairs(frame: pd.DataFrame) -> Iterator[tuple[str, str, pd.Series]]:
    """The rows of a table indexed by pairs, with the two keys as text."""
    for key, row in frame.iterrows():
        first, second = cast("tuple[Any, Any]", key)
        yield str(first), str(second), row


def _float(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _profiles_dict(
    groups: pd.DataFrame,
    indicators: pd.DataFrame,
    suppressed: tuple[str, ...],
    merged: tuple[str, ...],
) -> dict[str, Any]:
    by_group: dict[str, dict[str, Any]] = {}
    for group, ind, row in _pairs(indicators):
        by_group.setdefault(str(group), {})[str(ind)] = {
            "n": _int(row["n"]),
            **{k: _float(row[k]) for k in _STATS},
        }
    return {
        "groups": [
            {
                "group": str(group),
                "profiles": list(row["profiles"]),
                "merged": bool(row["merged"]),
                "n": _int(row["n"]),
                "descriptions": list(row["descriptions"]),
                "indicators": by_group.get(str(group), {}),
            }
            for group, row in groups.iterrows()
        ],
        "suppressed_profiles": list(suppressed),
        "merged_profiles": list(merged),
    }


def _models_dict(models: pd.DataFrame, effects: pd.DataFrame) -> list[dict[str, Any]]:
    by_usage: dict[str, list[dict[str, Any]]] = {}
    for usage, indicator, eff in _pairs(effects):
        by_usage.setdefault(str(usage), []).append(
            {
                "indicator": str(indicator),
                "status": str(eff["status"]),
                "unit": eff["unit"],
                **{k: _float(eff[k]) for k in _EFFECT_FIGURES},
            }
        )
    return [
        {
            "usage": str(usage),
            "label": row["label"],
            "outcome": row["outcome"],
            "status": str(row["status"]),
            "n": _int(row["n"]),
            "cv": {
                key: int(row[col]) if key == "n_splits" else _float(row[col])
                for key, col in _CV.items()
            },
            "n_bootstrap": int(row["n_bootstrap"]),
            "effects": by_usage.get(str(usage), []),
        }
        for usage, row in models.iterrows()
    ]


def _margins_dict(margins: pd.DataFrame) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for scenario, usage, row in _pairs(margins):
        item = out.setdefault(
            str(scenario),
            {
                "scenario": str(scenario),
                "label": row["label"],
                "share_homes_changed": _float(row["share_homes_changed"]),
                "ignored_indicators": list(row["ignored_indicators"]),
                "population": _float(row["population"]),
                "usages": [],
            },
        )
        if usage == "all" and isinstance(row.get("reason"), str):
            item["reason"] = str(row["reason"])
        figures: dict[str, Any] = {"status": str(row["status"])}
        figures.update({k: _float(row[k]) for k in MARGIN_FIGURES})
        if usage == "all":
            item.update(figures)
        else:
            item["usages"].append({"usage": str(usage), **figures})
    return list(out.values())


def link_report(
    answers: pd.DataFrame,
    access: pd.DataFrame,
    *,
    profiles: pd.Series | UsageProfiles | None = None,
    scenarios: Sequence[Scenario] = DEFAULT_SCENARIOS,
    scale: Literal["near", "ngc"] | Mapping[str, Mapping[int, float]] = "near",
    constraints: Mapping[str, Sequence[str]] = USAGE_CONSTRAINTS,
    weights: pd.Series | None = None,
    cell_access: pd.DataFrame | None = None,
    population: float | None = None,
    n_bootstrap: int = 200,
    random_state: int = 0,
    lang: Lang = "fr",
) -> LinkReport:
    """Run the three analyses and return their protected aggregates, as published.

    Parameters
    ----------
    answers, access
        Located SU answers and indicators per home (see
        :func:`~qet_geo.analysis.homes.join_constraints`).
    profiles
        Usage profiles (a fitted :class:`qet_geo.analysis.profiles.UsageProfiles` or labels); None
        leaves the profile section out.
    scenarios, scale, constraints, weights, cell_access, population, n_bootstrap, random_state
        As for :func:`~qet_geo.analysis.models.constraint_models` and
        :func:`~qet_geo.analysis.margins.margins_of_manoeuvre`.
    lang
        "fr" (default) or "en": the language of labels and descriptions.

    Returns
    -------
    LinkReport
        The profile groups of :func:`~qet_geo.analysis.constraint_profiles.profile_constraints`
        (with the suppressed and merged profiles named), the same indicators over every home,
        the models (scores and effects) and the margins of manoeuvre (per scenario, total and
        per usage). Counts of fewer than 11 are withheld. Every table passed
        :func:`qet_geo.privacy.require_protected`.
    """
    if lang not in ("fr", "en"):
        raise ValidationError(msg("lang doit valoir 'fr' ou 'en', reçu {lang!r}.", lang=lang))
    return link_reports(
        answers,
        access,
        profiles=profiles,
        scenarios=scenarios,
        scale=scale,
        constraints=constraints,
        weights=weights,
        cell_access=cell_access,
        population=population,
        n_bootstrap=n_bootstrap,
        random_state=random_state,
        langs=(lang,),
    )[lang]


def link_reports(
    answers: pd.DataFrame,
    access: pd.DataFrame,
    *,
    profiles: pd.Series | UsageProfiles | None = None,
    scenarios: Sequence[Scenario] = DEFAULT_SCENARIOS,
    scale: Literal["near", "ngc"] | Mapping[str, Mapping[int, float]] = "near",
    constraints: Mapping[str, Sequence[str]] = USAGE_CONSTRAINTS,
    weights: pd.Series | None = None,
    cell_access: pd.DataFrame | None = None,
    population: float | None = None,
    n_bootstrap: int = 200,
    random_state: int = 0,
    langs: Sequence[Lang] = ("fr", "en"),
) -> dict[Lang, LinkReport]:
    """:func:`link_report` in several languages from one fit.

    The models, margins and profile tables (the bootstrap: seconds) are computed once; only
    their labels, notes and descriptions are rendered per language, so the reports of each
    language hold the same figures.

    Parameters
    ----------
    answers, access, profiles, scenarios, scale, constraints, weights, cell_access, population
        As for :func:`link_report`.
    n_bootstrap, random_state
        As for :func:`link_report`.
    langs
        The languages wanted, each "fr" or "en".

    Returns
    -------
    dict
        Language → :class:`LinkReport`, in the order of ``langs``.
    """
    for lang in langs:
        if lang not in ("fr", "en"):
            raise ValidationError(msg("lang doit valoir 'fr' ou 'en', reçu {lang!r}.", lang=lang))
    columns = _checked_columns(answers, access, cell_access)
    joined = join_constraints(answers, access, cell_access=cell_access)
    n_located = int(joined["located_by"].notna().sum())
    synthetic = bool(answers.attrs.get("synthetic", False)) or bool(
        len(answers) and pd.Index(answers.index.astype(str)).str.startswith("SYN-").all()
    )
    table: pd.DataFrame | None = None
    with warnings.catch_warnings():
        # join_constraints above already reported the answers left out
        warnings.filterwarnings("ignore", message=r".*have no home indicators.*")
        warnings.filterwarnings("ignore", message=r".*n'ont pas d'indicateurs de logement.*")
        if profiles is not None:
            table = profile_constraints(
                answers, access, profiles, weights=weights, cell_access=cell_access
            )
            require_protected(table, what="the profile constraint table")
        models = constraint_models(
            answers,
            access,
            constraints=constraints,
            weights=weights,
            cell_access=cell_access,
            n_bootstrap=n_bootstrap,
            random_state=random_state,
        )
        margins = margins_of_manoeuvre(
            answers,
            access,
            scenarios=scenarios,
            scale=scale,
            constraints=constraints,
            weights=weights,
            cell_access=cell_access,
            population=population,
            n_bootstrap=n_bootstrap,
            random_state=random_state,
        )
    require_protected(models.effects, what="the constraint effects table")
    require_protected(models.scores, what="the model scores table")
    require_protected(margins, what="the margins of manoeuvre table")
    neighbourhood = _published_homes(access, [c for c in PROFILE_INDICATORS if c in columns])
    reports: dict[Lang, LinkReport] = {}
    for lang in langs:
        groups = None
        if table is not None and profiles is not None:
            groups = _published_profiles(table, profiles, lang)
        notes: list[str] = []
        if synthetic:
            notes.append(
                msg(
                    "Réponses synthétiques (étiquetées SYN-) : démonstration, pas un résultat "
                    "d'enquête."
                ).render(lang)
            )
        notes.append(
            msg(
                "Associations, pas des effets causaux : les marges supposent que les habitants se "
                "comporteraient comme les répondants qui vivent déjà sans la contrainte."
            ).render(lang)
        )
        model_table, effect_table = _published_models(models, lang, n_located=n_located)
        reports[lang] = LinkReport(
            synthetic=synthetic,
            n_answers=_count(len(answers)),
            n_located=_count(n_located),
            scale=scale if isinstance(scale, str) else "custom",
            lang=lang,
            profiles=groups[0] if groups is not None else None,
            profile_indicators=groups[1] if groups is not None else None,
            suppressed_profiles=groups[2] if groups is not None else (),
            merged_profiles=groups[3] if groups is not None else (),
            neighbourhood=neighbourhood.copy(),
            n_homes=len(access),
            models=model_table,
            effects=effect_table,
            margins=_published_margins(margins, lang),
            notes=tuple(notes),
        )
    return reports


def _num(value: Any, digits: int = 4) -> float:
    """A figure as published: rounded to ``digits``, NaN when missing or not finite."""
    if value is None or value is pd.NA:
        return math.nan
    try:
        f = float(value)
    except (TypeError, ValueError):
        return math.nan
    if not math.isfinite(f):
        return math.nan
    return round(f, digits)


def _count_or_zero(value: Any) -> int:
    number = _num(value)
    return 0 if math.isnan(number) else int(number)


def _indicator_count(n: int, size: int, *, hide: bool) -> int | None:
    """Members with a value: withheld when it would tell how many (1 to 10) have none."""
    if n == 0:
        return 0
    if hide or 0 < size - n < MIN_RESPONDENTS:
        return None
    return _count(n)


def _published_profiles(
    table: pd.DataFrame, profiles: pd.Series | UsageProfiles, lang: Lang
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...], tuple[str, ...]]:
    """The groups and their indicators as published, and the suppressed and merged profiles."""
    descriptions: dict[str, str] = {}
    if not isinstance(profiles, pd.Series) and hasattr(profiles, "describe"):
        described = profiles.describe(lang=lang)
        descriptions = {str(p): str(d) for p, d in described["description"].items()}
    indicators = list(table.attrs.get("indicators", []))
    suppressed = tuple(str(p) for p in table.attrs.get("suppressed_profiles", []))
    merged = tuple(str(p) for p in table.attrs.get("merged_profiles", []))
    group_rows: list[dict[str, Any]] = []
    keys: list[tuple[str, str]] = []
    stats: list[dict[str, Any]] = []
    for zone, row in table.iterrows():
        members = tuple(p for p in str(row["profiles"]).split("+") if p)
        size = int(row["n_respondents"])
        group_rows.append(
            {
                "group": str(zone),
                "profiles": members,
                "merged": bool(row["merged"]),
                # with a profile suppressed, the sizes would give its size by difference
                "n": None if suppressed else _count(size),
                "descriptions": tuple(descriptions[p] for p in members if p in descriptions),
            }
        )
        for ind in indicators:
            keys.append((str(zone), ind))
            stats.append(
                {
                    "n": _indicator_count(int(row[f"{ind}_n"]), size, hide=bool(suppressed)),
                    **{k: _num(row[f"{ind}_{k}"]) for k in _STATS},
                }
            )
    groups = pd.DataFrame(group_rows, columns=["group", "profiles", "merged", "n", "descriptions"])
    groups["n"] = pd.array(groups["n"].tolist(), dtype="Int64")
    groups = groups.set_index("group")
    values = pd.DataFrame(
        stats,
        index=pd.MultiIndex.from_tuples(keys, names=["group", "indicator"])
        if keys
        else pd.MultiIndex.from_arrays([[], []], names=["group", "indicator"]),
        columns=["n", *_STATS],
    )
    values["n"] = pd.array(values["n"].tolist(), dtype="Int64")
    return groups, values, suppressed, merged


def _published_homes(access: pd.DataFrame, indicators: list[str]) -> pd.DataFrame:
    """The indicators over every home, weighted by the homes' weights, as published."""
    weight = (
        access["weight"].to_numpy(dtype=float)
        if "weight" in access.columns
        else np.ones(len(access))
    )
    weight = np.where(np.isfinite(weight) & (weight > 0), weight, 0.0)
    rows: list[dict[str, Any]] = []
    for ind in indicators:
        unit = indicator_unit(ind)
        v = access[ind].to_numpy(dtype=float)
        ok = np.isfinite(v) & (weight > 0)
        if not ok.any():
            rows.append({"homes": 0, **{k: math.nan for k in _STATS}})
            continue
        q = _weighted_quantiles(v[ok], weight[ok], (0.25, 0.5, 0.75))
        mean = float(np.average(v[ok], weights=weight[ok]))
        figures = (mean, float(q[0]), float(q[1]), float(q[2]))
        rows.append(
            {
                "homes": int(ok.sum()),
                **{
                    k: _num(_round_to(f, unit.precision))
                    for k, f in zip(_STATS, figures, strict=True)
                },
            }
        )
    return pd.DataFrame(
        rows, index=pd.Index(indicators, name="indicator"), columns=["homes", *_STATS]
    )


def _published_models(
    models: ConstraintModels, lang: Lang, *, n_located: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The model scores and effects as published, in ``lang``."""
    from qet_geo.surveys.schema import LEVEL_LABELS, USAGE_LABELS

    rows: list[dict[str, Any]] = []
    for usage, row in models.scores.iterrows():
        usage = str(usage)
        level = int(row["outcome_level"])
        rows.append(
            {
                "usage": usage,
                "label": USAGE_LABELS[usage].render(lang),
                "outcome": msg(
                    "niveau {level} ou plus : {label}",
                    level=level,
                    label=LEVEL_LABELS[usage][level],
                ).render(lang),
                "status": str(row["status"]),
                # withheld when it would tell, by difference, how many (1 to 10) lack the usage
                "n": None
                if row["n_respondents"] is pd.NA
                else _indicator_count(int(row["n_respondents"]), n_located, hide=False),
                "n_splits": int(row["n_splits"]),
                **{col: _num(row[col]) for col in list(_CV.values())[1:-1]},
                "log_loss_gain": _num(row["log_loss_gain"], 5),
                "n_bootstrap": _count_or_zero(row["n_bootstrap"]),
            }
        )
    scores = pd.DataFrame(
        rows,
        columns=["usage", "label", "outcome", "status", "n", *_CV.values(), "n_bootstrap"],
    )
    scores["n"] = pd.array(scores["n"].tolist(), dtype="Int64")
    effects = models.effects
    # the effects table carries the unit in both languages (columns unit_fr and unit_en)
    unit_col = f"unit_{lang}"
    published = pd.DataFrame(
        {
            "status": effects["status"].astype(str).to_numpy(),
            "unit": effects[unit_col].to_numpy(),
            **{k: [_num(v) for v in effects[k]] for k in _EFFECT_FIGURES},
        },
        index=effects.index,
        columns=["status", "unit", *_EFFECT_FIGURES],
    )
    return scores.set_index("usage"), published


def _published_margins(margins: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """The margins of manoeuvre as published, in ``lang``."""
    digits = {"baseline_kgco2e_per_person": 1, "saving_tco2e": 3}
    out = pd.DataFrame(
        {
            # the margins table carries the label in both languages (label_fr and label_en)
            "label": margins[f"label_{lang}"].to_numpy(),
            "share_homes_changed": [_num(v) for v in margins["share_homes_changed"]],
            "ignored_indicators": [
                tuple(i for i in str(v).split(";") if i) for v in margins["ignored"]
            ],
            "population": [_num(v, 1) for v in margins["population"]],
            "status": margins["status"].astype(str).to_numpy(),
        },
        index=margins.index,
    )
    # why a scenario was left out (data the run lacks), said in the reader's language
    left_out = margins.attrs.get("left_out", {})
    out["reason"] = [
        left_out[scenario].render(lang) if usage == "all" and scenario in left_out else None
        for scenario, usage in margins.index
    ]
    out.attrs["left_out"] = dict(left_out)
    for col in MARGIN_FIGURES:
        n = digits.get(col, 3 if col.startswith("saving_tco2e") else 2)
        out[col] = [_num(v, n) for v in margins[col]]
    return out
