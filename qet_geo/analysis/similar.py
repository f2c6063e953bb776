"""Neighbourhoods like yours: the published neighbourhoods nearest to one on built constraints and
profile mix (the method's "coopétition").

A neighbourhood is described by the figures the national comparison publishes for it: its
population-weighted built-constraint indicators and the share of each national reference usage
profile among its respondents (:mod:`qet_geo.analysis.national`). Each column is standardised
over the neighbourhoods compared (mean 0, standard deviation 1; a constant column counts for
nothing); a missing figure takes the column's mean (it neither brings a neighbourhood nearer nor
pushes it away). The two groups weigh the same whatever their number of columns: each column of
a group is divided by the square root of the group's size, so that the constraints as a whole and
the profile mix as a whole each contribute up to the same share of the distance. The distance is
Euclidean on those scaled columns; the nearest come first, ties broken by the smaller id (the
same answer on every machine).

Only figures that are already public are read (they follow the privacy rules when published);
nothing here is a new count.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from qet_geo.errors import ValidationError
from qet_geo.i18n import msg

__all__ = ["Similar", "pooled_profile_mix", "similar_neighbourhoods", "similarity_space"]


@dataclass(frozen=True)
class Similar:
    """One neighbourhood near another: its id and its distance (standardised units)."""

    id: Hashable
    distance: float


def similarity_space(
    constraints: pd.DataFrame, profile_mix: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The neighbourhoods (rows) in the space where distances are measured.

    Parameters
    ----------
    constraints
        Built-constraint indicators per neighbourhood (index: neighbourhood ids).
    profile_mix
        Share of each reference profile per neighbourhood (same index), or None.

    Returns
    -------
    pandas.DataFrame
        The scaled columns of both groups (constraints prefixed ``c:``, profiles ``p:``).

    Raises
    ------
    ValidationError
        The two tables do not describe the same neighbourhoods, or a column is not numeric.
    """
    groups = [("c:", constraints)]
    if profile_mix is not None and not profile_mix.empty:
        if not profile_mix.index.equals(constraints.index):
            raise ValidationError(
                msg("les contraintes et les profils doivent décrire les mêmes quartiers.")
            )
        groups.append(("p:", profile_mix))
    parts = []
    for prefix, table in groups:
        try:
            values = table.astype(float)
        except (TypeError, ValueError) as err:
            raise ValidationError(msg("une colonne n'est pas numérique : {err}.", err=err)) from err
        values = values.fillna(values.mean()).fillna(0.0)
        spread = values.std(ddof=0)
        z = (values - values.mean()) / spread.where(spread > 0, np.inf)
        z = z / np.sqrt(max(len(values.columns), 1))
        parts.append(z.add_prefix(prefix))
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=constraints.index)


def similar_neighbourhoods(
    space: pd.DataFrame,
    target: Hashable,
    *,
    k: int = 3,
    among: Sequence[Hashable] | None = None,
) -> list[Similar]:
    """The ``k`` neighbourhoods nearest to ``target`` in ``space`` (:func:`similarity_space`).

    ``among`` restricts the candidates (e.g. the published ones); ``target`` is never its own
    neighbour. Nearest first; equal distances by increasing id.

    Raises
    ------
    ValidationError
        ``target`` is not a row of ``space``, or ``k`` is not a positive whole number.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValidationError(msg("k doit être un entier >= 1, reçu {k!r}.", k=k))
    if target not in space.index:
        raise ValidationError(
            msg("le quartier {target} n'est pas dans la comparaison.", target=target)
        )
    row = space.index.get_loc(target)
    here = space.iloc[row].to_numpy(dtype=float)
    candidates = space.drop(index=target)
    if among is not None:
        wanted = set(among)
        candidates = candidates[[i in wanted for i in candidates.index]]
    if candidates.empty:
        return []
    gaps = candidates.to_numpy(dtype=float) - here
    distances = np.sqrt((gaps**2).sum(axis=1))
    ids = candidates.index.tolist()  # Python values, not numpy scalars
    order = sorted(range(len(ids)), key=lambda i: (round(float(distances[i]), 12), ids[i]))
    return [Similar(ids[i], float(distances[i])) for i in order[:k]]


def pooled_profile_mix(mix: pd.DataFrame, weights: pd.Series, groups: pd.Series) -> pd.DataFrame:
    """The share of each profile per group of neighbourhoods, weighted by their respondents.

    ``mix`` holds each neighbourhood's published profile shares (rows: neighbourhoods, columns:
    profiles), ``weights`` its respondents, ``groups`` its group (a région, a type). Returns one
    row per group: ``neighbourhoods``, ``respondents`` and the weighted mean share of each
    profile over the neighbourhoods that publish it (a group of published neighbourhoods has 11
    respondents or more: each of them has).
    """
    frame = mix.astype(float)
    w = weights.astype(float).reindex(frame.index)
    rows = []
    for group, index in frame.groupby(groups.reindex(frame.index), sort=True).groups.items():
        part, pw = frame.loc[index], w.loc[index]
        shares = {
            col: float((part[col] * pw).sum() / pw[part[col].notna()].sum())
            if part[col].notna().any()
            else float("nan")
            for col in frame.columns
        }
        rows.append(
            {"group": group, "neighbourhoods": len(index), "respondents": int(pw.sum()), **shares}
        )
    return pd.DataFrame(rows).set_index("group") if rows else pd.DataFrame()
