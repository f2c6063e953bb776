"""Answers meet homes: each located SU answer gets its home's constraint indicators.

:func:`join_constraints` gives each answer the indicators of its home (its building, else its
200 m cell) from :func:`qet_geo.constraints.access.neighbourhood_access`;
:func:`building_indicators` adds the heating-related indicators of each building (age, storeys,
footprint). The joined table is personal data: it stays inside the store and is never published.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from qet_geo._validate import data_frame
from qet_geo.constraints.indicators import NOT_INDICATORS
from qet_geo.errors import QetGeoWarning, ValidationError
from qet_geo.i18n import Msg, msg

__all__ = ["building_indicators", "join_constraints"]

_YEAR = re.compile(r"(1[0-9]{3}|20[0-9]{2})")


def building_indicators(buildings: pd.DataFrame) -> pd.DataFrame:
    """Return the heating-related indicators of each building: age, storeys, footprint.

    Parameters
    ----------
    buildings
        The building layer (``layers.layers["buildings"]``, indexed by OSM key such as "w123"),
        with any of ``start_date``, ``levels`` and ``footprint_m2`` (or a geometry).

    Returns
    -------
    pandas.DataFrame
        Aligned to ``buildings``: ``building_year`` (the first year of ``start_date``, NaN when
        unknown), ``building_levels`` (storeys, NaN when unknown) and ``footprint_m2``. Join it to
        the access table (``access.join(building_indicators(b))``) to model heating.

    Raises
    ------
    ValidationError
        ``buildings`` is not a DataFrame.
    """
    hint = msg("passez la couche des bâtiments, indexée par clé OSM")
    data_frame(buildings, what="buildings", hint=hint)
    out = pd.DataFrame(index=buildings.index)
    if "start_date" in buildings.columns:
        text = buildings["start_date"].astype("string")
        year = text.str.extract(_YEAR, expand=False)
        out["building_year"] = pd.to_numeric(year, errors="coerce").astype(float)
    else:
        out["building_year"] = np.nan
    if "levels" in buildings.columns:
        levels = pd.to_numeric(buildings["levels"], errors="coerce").astype(float)
        out["building_levels"] = levels.where(levels > 0)
    else:
        out["building_levels"] = np.nan
    if "footprint_m2" in buildings.columns:
        out["footprint_m2"] = pd.to_numeric(buildings["footprint_m2"], errors="coerce").astype(
            float
        )
    elif hasattr(buildings, "geometry") and buildings.geometry is not None:
        out["footprint_m2"] = np.asarray(buildings.geometry.area, dtype=float)
    else:
        out["footprint_m2"] = np.nan
    return out


def join_constraints(
    answers: pd.DataFrame,
    access: pd.DataFrame,
    *,
    cell_access: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Give each answer its home's constraint indicators (personal data: never publish it).

    Parameters
    ----------
    answers
        SU answers with ``building_key`` (the home's building, an index of ``access``) and/or
        ``cell_id`` (the home's INSEE 200 m cell), e.g. from :func:`qet_geo.surveys.located.read_located_answers` or
        :func:`qet_geo.surveys.synthetic.synthesize_answers`.
    access
        Indicators per home (:func:`qet_geo.constraints.access.neighbourhood_access` with homes as
        buildings, indexed by building key), optionally joined with :func:`building_indicators`.
    cell_access
        Indicators per 200 m cell (``neighbourhood_access(layers, homes="cells")``, indexed by
        cell id), for answers located by their cell only. Without it such answers are left out.

    Returns
    -------
    pandas.DataFrame
        Aligned to ``answers``: every numeric indicator column of ``access`` (NaN when the answer
        is not located), ``located_by`` ("building", "cell" or ``<NA>``) and ``home_id`` (the
        building key or cell id joined: answers sharing it are one cluster of the bootstrap).

    Raises
    ------
    ValidationError
        ``answers`` has neither ``building_key`` nor ``cell_id``, or ``access`` is not a table of
        indicators with unique home ids.
    """
    columns = _checked_columns(answers, access, cell_access)
    return _join(answers, access, columns, cell_access)


def _checked_columns(
    answers: pd.DataFrame, access: pd.DataFrame, cell_access: pd.DataFrame | None
) -> list[str]:
    """Check the answers and the indicator tables; return the indicator columns of ``access``."""
    _check_answers(answers)
    columns = _indicator_columns(access, what="access")
    if cell_access is not None:
        _indicator_columns(cell_access, what="cell_access")
    return columns


def _check_answers(obj: object) -> None:
    answers = data_frame(obj, what="answers", hint=msg("une ligne par répondant"))
    if "building_key" not in answers.columns and "cell_id" not in answers.columns:
        raise ValidationError(
            msg(
                "answers n'a ni colonne building_key ni colonne cell_id : localisez d'abord les "
                "logements (qet_geo.surveys.located.read_located_answers, ou locate_homes puis "
                "coarsen_locations)."
            )
        )
    if not answers.index.is_unique:
        raise ValidationError(
            msg("answers a des identifiants de répondants en double dans son index.")
        )


def _indicator_columns(obj: object, *, what: str) -> list[str]:
    hint = msg("passez la table des indicateurs par logement (neighbourhood_access)")
    access = data_frame(obj, what=what, hint=hint)
    if not access.index.is_unique:
        raise ValidationError(
            msg("{what} a des identifiants de logement en double dans son index.", what=what)
        )
    columns = [
        str(c)
        for c in access.columns
        if str(c) not in NOT_INDICATORS
        and pd.api.types.is_numeric_dtype(access[c])
        and not pd.api.types.is_bool_dtype(access[c])
    ]
    if not columns:
        raise ValidationError(
            msg(
                "{what} n'a aucune colonne d'indicateur numérique : calculez-la avec "
                "qet_geo.constraints.access.neighbourhood_access.",
                what=what,
            )
        )
    return columns


def _join(
    answers: pd.DataFrame,
    access: pd.DataFrame,
    columns: list[str],
    cell_access: pd.DataFrame | None,
) -> pd.DataFrame:
    out = pd.DataFrame(np.nan, index=answers.index, columns=columns, dtype=float)
    located = pd.Series(pd.NA, index=answers.index, dtype="string")
    home = pd.Series(pd.NA, index=answers.index, dtype="string")
    if "building_key" in answers.columns:
        keys = answers["building_key"].astype("string")
        # the answers' homes looked up among every home, then only their rows taken: the cost
        # grows with the answers, not with the homes times the indicators
        position = pd.Index(access.index.astype(str)).get_indexer(
            keys.fillna("").to_numpy(dtype=str)
        )
        hit = keys.notna().to_numpy(dtype=bool) & (position >= 0)  # a missing key is no home
        if hit.any():
            rows = access.iloc[position[hit]]
            out.loc[hit, columns] = rows[columns].astype(float).to_numpy()
            located[hit] = "building"
            home[hit] = keys[hit]
    if cell_access is not None and "cell_id" in answers.columns:
        cell_cols = [c for c in columns if c in cell_access.columns]
        cells = answers["cell_id"].astype("string")
        lookup = cell_access[cell_cols].astype(float)
        lookup = lookup.set_axis(lookup.index.astype(str))
        todo = located.isna().to_numpy(dtype=bool) & cells.isin(lookup.index).fillna(
            False
        ).to_numpy(dtype=bool)
        if todo.any():
            out.loc[todo, cell_cols] = lookup.loc[cells[todo].to_numpy(dtype=str)].to_numpy()
            located[todo] = "cell"
            home[todo] = cells[todo]
    out["located_by"] = located
    out["home_id"] = home
    missing = int(located.isna().sum())
    if missing:
        by_cell: Msg | str = ""
        if cell_access is None and "cell_id" in answers.columns:
            by_cell = msg(" (les réponses localisées par leur seul carreau demandent cell_access=)")
        warnings.warn(
            QetGeoWarning(
                msg(
                    "{missing} réponses sur {total} n'ont pas d'indicateurs de logement : leur "
                    "bâtiment n'est pas un logement de la table d'accès et leur carreau n'est pas "
                    "connu{by_cell} ; elles sont écartées.",
                    missing=missing,
                    total=len(answers),
                    by_cell=by_cell,
                )
            ),
            stacklevel=3,
        )
    return out
