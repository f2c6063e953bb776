"""Profiles meet constraints: the home indicators of each usage profile's located members.

:func:`profile_constraints` describes, for each usage profile (Profil d'Usages), the distribution
of its members' home indicators (weighted mean and quartiles), through
:func:`qet_geo.privacy.safe_aggregate`: no group of 1 to 10 located members, no dominance; small
profiles are merged into their nearest profile or suppressed, and named. Published quartiles and
means are rounded to the indicator's publication step (10 m, half a minute...), so that no figure
is one home's exact indicator.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from qet_geo.analysis._fitting import _check_weights
from qet_geo.analysis._publish import _round_to, _weighted_quantiles
from qet_geo.analysis.homes import _checked_columns, _join
from qet_geo.constraints.indicators import PROFILE_INDICATORS, indicator_unit
from qet_geo.errors import QetGeoWarning, ValidationError
from qet_geo.i18n import AND, Msg, join, msg
from qet_geo.privacy import MIN_RESPONDENTS, protect_zones, safe_aggregate

if TYPE_CHECKING:
    from qet_geo.analysis.profiles import UsageProfiles

__all__ = ["profile_constraints"]


def profile_constraints(
    answers: pd.DataFrame,
    access: pd.DataFrame,
    profiles: pd.Series | UsageProfiles,
    *,
    indicators: Sequence[str] | None = None,
    weights: pd.Series | None = None,
    cell_access: pd.DataFrame | None = None,
    neighbours: Mapping[str, Sequence[str]] | None = None,
    min_respondents: int = MIN_RESPONDENTS,
) -> pd.DataFrame:
    """Describe the home constraints of each usage profile's located members.

    Parameters
    ----------
    answers
        Located SU answers (see :func:`~qet_geo.analysis.homes.join_constraints`).
    access
        Indicators per home (:func:`qet_geo.constraints.access.neighbourhood_access`).
    profiles
        A fitted :class:`qet_geo.analysis.profiles.UsageProfiles` (each answer gets its nearest profile,
        and a small profile is merged into the profile of the nearest centre), or a Series of
        profile labels aligned to ``answers`` (``<NA>``: no profile; a small profile is then
        merged into the smallest other profile).
    indicators
        Indicators to describe; those of :data:`~qet_geo.constraints.indicators.PROFILE_INDICATORS` found in ``access`` by
        default.
    weights
        Respondent weights (e.g. :func:`qet_geo.surveys.representativeness.raking_weights`), aligned to
        ``answers``; 1 each by default.
    cell_access
        Indicators per 200 m cell, for answers located by their cell only.
    neighbours
        Profile label → profiles it may be merged with, instead of the defaults above. An empty
        mapping merges nothing: small profiles are then suppressed (and named).
    min_respondents
        Fewest located members of a published group; 11 (INSEE). Lower values are refused.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``profile`` (the published group: a profile label, labels joined by "+" when
        merged, or "other"): ``n_respondents`` (located members), ``merged``, ``profiles`` (the
        profiles in the group, "+"-joined) and, for each indicator, ``{indicator}_n`` (members
        with a value), ``_mean`` (weighted), ``_q25``, ``_median``, ``_q75`` (weighted), rounded
        to the indicator's publication step (:func:`~qet_geo.constraints.indicators.indicator_unit`). Marked as protected;
        ``attrs["suppressed_profiles"]`` and ``attrs["merged_profiles"]`` name the profiles
        that could not be published alone.

    Raises
    ------
    ValidationError
        Bad ``answers``, ``access``, ``profiles``, ``weights`` or ``indicators``, or
        ``min_respondents`` below 11.

    Warns
    -----
    QetGeoWarning
        Answers without home indicators were left out; profiles were merged or suppressed (they
        are named).
    """
    columns = _checked_columns(answers, access, cell_access)
    labels, auto_neighbours = _profile_labels(profiles, answers)
    if indicators is None:
        chosen = [c for c in PROFILE_INDICATORS if c in columns]
    else:
        if isinstance(indicators, str):
            indicators = [indicators]
        unknown = [c for c in indicators if c not in columns]
        if unknown:
            raise ValidationError(
                msg(
                    "Les indicateurs {unknown} ne sont pas des colonnes de access.",
                    unknown=", ".join(unknown),
                )
            )
        chosen = list(dict.fromkeys(indicators))
    if not chosen:
        raise ValidationError(msg("Aucun des indicateurs à décrire n'est dans access."))
    w = _check_weights(weights, answers.index)
    joined = _join(answers, access, columns, cell_access)
    return _profile_constraints(
        joined,
        labels,
        chosen,
        w,
        neighbours=neighbours if neighbours is not None else auto_neighbours,
        min_respondents=min_respondents,
    )


def _profile_labels(
    profiles: pd.Series | UsageProfiles, answers: pd.DataFrame
) -> tuple[pd.Series, dict[str, list[str]] | None]:
    if isinstance(profiles, pd.Series):
        if not profiles.index.equals(answers.index):
            aligned = profiles.reindex(answers.index)
            if aligned.isna().all() and len(profiles):
                raise ValidationError(
                    msg(
                        "profiles doit être aligné sur les réponses (mêmes identifiants de répondants)."
                    )
                )
            profiles = aligned
        labels = profiles.astype("string")
        # no centres to say which profile is nearest: a small profile joins the smallest other
        # one (a pooled "other" group of 1 to 10 would be suppressed, and its size could then be
        # read off the total)
        present = sorted({str(p) for p in labels.dropna().tolist()}, key=_profile_sort)
        everyone = {p: [q for q in present if q != p] for p in present}
        return labels, everyone
    if hasattr(profiles, "assign") and hasattr(profiles, "centres_"):
        assigned = profiles.assign(answers)["profile"]
        labels = assigned.astype("string")
        centres = np.asarray(profiles.centres_, dtype=float)
        neighbours: dict[str, list[str]] = {}
        if len(centres) > 1:
            d = np.sqrt(((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1))
            np.fill_diagonal(d, np.inf)
            for p in range(len(centres)):
                neighbours[str(p)] = [str(int(np.argmin(d[p])))]
        return labels, neighbours
    raise ValidationError(
        msg(
            "profiles doit être un UsageProfiles ajusté ou une Series d'étiquettes de profil "
            "alignée sur les réponses."
        )
    )


def _profile_constraints(
    joined: pd.DataFrame,
    labels: pd.Series,
    indicators: list[str],
    w: np.ndarray,
    *,
    neighbours: Mapping[str, Sequence[str]] | None,
    min_respondents: int,
) -> pd.DataFrame:
    keep = joined["located_by"].notna().to_numpy(dtype=bool) & labels.notna().to_numpy(dtype=bool)
    frame = joined.loc[keep, indicators].astype(float)
    frame["profile"] = labels[keep].astype(str).to_numpy()
    weight = w[keep]
    values = [c for c in indicators if frame[c].notna().any()]
    zones = protect_zones(
        frame,
        zone="profile",
        values=values,
        neighbours=neighbours,
        min_respondents=min_respondents,
        leftover="nearest",
    )
    table = safe_aggregate(
        frame,
        zone="profile",
        values=values,
        neighbours=neighbours,
        min_respondents=min_respondents,
        leftover="nearest",
    )
    for col in [c for c in table.columns if c.endswith(("_sum", "_mean"))]:
        del table[col]
    zone_of = zones.astype("string").fillna("").to_numpy(dtype=str)
    members: dict[str, list[str]] = {}
    all_profiles = sorted(set(frame["profile"]), key=_profile_sort)
    for profile, zone in zip(frame["profile"], zone_of, strict=True):
        if zone:
            members.setdefault(zone, [])
            if profile not in members[zone]:
                members[zone].append(profile)
    published = {p for ps in members.values() for p in ps}
    suppressed = [p for p in all_profiles if p not in published]
    merged = sorted({p for ps in members.values() if len(ps) > 1 for p in ps}, key=_profile_sort)
    table["profiles"] = [
        "+".join(sorted(members.get(str(z), []), key=_profile_sort)) for z in table.index
    ]
    for name in indicators:
        unit = indicator_unit(name)
        stats: dict[str, list[float]] = {k: [] for k in ("n", "mean", "q25", "median", "q75")}
        values_all = frame[name].to_numpy(dtype=float)
        for zone in table.index:
            sel = (zone_of == str(zone)) & np.isfinite(values_all)
            v, wz = values_all[sel], weight[sel]
            stats["n"].append(float(sel.sum()))
            if len(v) == 0 or wz.sum() <= 0:
                for k in ("mean", "q25", "median", "q75"):
                    stats[k].append(np.nan)
                continue
            q = _weighted_quantiles(v, wz, (0.25, 0.5, 0.75))
            stats["mean"].append(_round_to(float(np.average(v, weights=wz)), unit.precision))
            for k, value in zip(("q25", "median", "q75"), q, strict=True):
                stats[k].append(_round_to(float(value), unit.precision))
        table[f"{name}_n"] = pd.array([int(n) for n in stats["n"]], dtype="Int64")
        for k in ("mean", "q25", "median", "q75"):
            table[f"{name}_{k}"] = stats[k]
    table.index.name = "profile"
    table.attrs["suppressed_profiles"] = suppressed
    table.attrs["merged_profiles"] = merged
    table.attrs["indicators"] = list(indicators)
    if suppressed or merged:
        parts: list[Msg] = []
        if merged:
            parts.append(
                msg("les profils {profiles} ont été fusionnés", profiles=", ".join(merged))
            )
        if suppressed:
            parts.append(
                msg("les profils {profiles} ont été supprimés", profiles=", ".join(suppressed))
            )
        warnings.warn(
            QetGeoWarning(
                msg(
                    "{parts} : trop peu de membres localisés pour les publier seuls "
                    "(moins de {min_respondents}, ou un membre dominant un indicateur).",
                    parts=join(parts, AND),
                    min_respondents=min_respondents,
                )
            ),
            stacklevel=3,
        )
    return table


def _profile_sort(label: str) -> tuple[int, str]:
    return (int(label), "") if label.isdigit() else (1 << 30, label)
