"""Located answers: SU answers whose homes are tied to the neighbourhood's buildings and cells.

:func:`read_located_answers` reads SU answers (a GeoPackage or Parquet table such as
``qet survey synthesize`` writes, or a survey file) and locates each home on the buildings and
200 m cells of the neighbourhood, offline. Raw coordinates and addresses are dropped here
(:func:`qet_geo.privacy.coarsen_locations`): what comes out holds a building key and a cell id.
"""

from __future__ import annotations

import warnings
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from qet_geo._validate import existing_file
from qet_geo.crs import WORK_CRS
from qet_geo.errors import DataCoverageError, InputFileError, QetGeoWarning, ValidationError
from qet_geo.i18n import msg, number
from qet_geo.surveys.schema import USAGES

if TYPE_CHECKING:
    from qet_geo.layers import NeighbourhoodLayers

__all__ = ["MAX_ELSEWHERE_SHARE", "locate_answers", "read_located_answers"]

#: Largest share of answers located outside the neighbourhood's working area (territory plus
#: buffer) that a survey may hold: up to it, those answers are set aside and listed (a respondent
#: who gave a workplace address, a typo); above it, the file is refused, since it is most likely
#: another neighbourhood's survey and a diagnostic must never mix two places.
MAX_ELSEWHERE_SHARE = 0.05


def read_located_answers(
    path: str | PathLike[str],
    layers: NeighbourhoodLayers,
) -> pd.DataFrame:
    """Read SU answers and locate each home on the neighbourhood's buildings and 200 m cells.

    Parameters
    ----------
    path
        One of:

        - a GeoPackage or (Geo)Parquet table with one row per respondent, the usage columns
          (levels 1 to 3, :data:`~qet_geo.surveys.schema.USAGES`), an optional
          ``respondent_id``, and a location: ``building_key`` (an OSM building key such as
          "w123"), a point geometry, ``lon``/``lat``, or ``cell_id``, such as
          ``qet survey synthesize`` writes;
        - an SU answer file read by :func:`qet_geo.surveys.io.read_su` (CSV, TSV, XLSX: labels
          or codes) with location columns (``lon``/``lat``, ``x``/``y``, ``cell_id``, an address)
          and optionally ``building_key``.
    layers
        The neighbourhood (:func:`qet_geo.layers.build_layers`): its buildings and addresses
        locate the homes (offline).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``respondent_id``: the usage levels (``Int8``), ``age_band``, ``gender``,
        ``csp`` when given, ``building_key`` and ``cell_id`` (``<NA>`` when unknown). Raw
        coordinates and addresses are dropped here (:func:`qet_geo.privacy.coarsen_locations`).
        ``synthetic`` (True on every row) and ``attrs["synthetic"]`` when the answers are
        synthetic (:func:`~qet_geo.surveys.synthetic.synthetic_label`: SYN- ids or a true
        ``synthetic`` column, in every format ``qet survey synthesize`` writes).

    Raises
    ------
    InputFileError
        The file is missing or unreadable.
    ValidationError
        No usage column, levels other than 1, 2, 3, no location column, or a file that mixes
        synthetic and real answers.

    DataCoverageError
        More than :data:`MAX_ELSEWHERE_SHARE` of the located answers lie outside the
        neighbourhood's working area: the survey is another place's.

    Warns
    -----
    QetGeoWarning
        Rows of the survey file were rejected, respondents could not be located, or a few answers
        located elsewhere were set aside (listed).
    """
    from qet_geo.surveys.synthetic import synthetic_label

    file = Path(path)
    existing_file(file, what=msg("Fichier de réponses"), file_only=True)
    suffix = file.suffix.lower()
    if suffix in (".parquet", ".gpkg", ".geoparquet"):
        answers, locations = _read_table(file)
        flags = answers["synthetic"] if "synthetic" in answers.columns else None
        synthetic = synthetic_label(answers.index, flags, source=file.name)
    else:
        answers, locations, synthetic = _read_survey(file)
    return locate_answers(
        answers.drop(columns=["synthetic"], errors="ignore"),
        locations,
        layers,
        file=file,
        synthetic=synthetic,
    )


def locate_answers(
    answers: pd.DataFrame,
    locations: pd.DataFrame,
    layers: NeighbourhoodLayers,
    *,
    file: Path,
    synthetic: bool,
) -> pd.DataFrame:
    """Tie a survey's answers to buildings and cells, and set aside those from elsewhere.

    The located-answers step of every survey reader (SU here, MdV/EdV in
    :func:`qet_geo.analysis.perceived.read_located_mdv`).

    Parameters
    ----------
    answers
        One row per respondent, indexed by respondent id.
    locations
        The location columns of the same rows (building key, cell, coordinates or address).
    layers
        The neighbourhood's layers (buildings, territory, working area).
    file
        The survey file, named in the messages.
    synthetic
        Whether the answers are labelled synthetic: a ``synthetic`` column and ``attrs``.

    Raises
    ------
    DataCoverageError
        More than :data:`MAX_ELSEWHERE_SHARE` of the answers lie outside the working area.
    """
    located = _locate_answers(answers, locations, layers)
    if synthetic:
        # a column, not only ``attrs`` (which most pandas operations drop): the label follows the
        # answers wherever they go, as on the answers of ``synthesize_answers``
        located["synthetic"] = True
    located.attrs["synthetic"] = synthetic
    return _set_aside_elsewhere(located, layers, file)


def _set_aside_elsewhere(
    located: pd.DataFrame, layers: NeighbourhoodLayers, file: Path
) -> pd.DataFrame:
    """Drop the few answers located outside the working area; refuse a survey of elsewhere."""
    from qet_geo.inputs.census import cell_id_to_polygon

    if located.empty:
        return located
    buildings = layers.layers.get("buildings")
    known = pd.Index([] if buildings is None else buildings.index.astype(str))
    keys, cells = located["building_key"], located["cell_id"]
    here = np.array(keys.isin(known).fillna(False), dtype=bool)
    by_cell = ~here & cells.notna().to_numpy(dtype=bool)
    if by_cell.any():
        squares = cell_id_to_polygon(cells[by_cell].astype(str))
        inside = squares.intersects(layers.territory.working_area).to_numpy(dtype=bool)
        here[np.flatnonzero(by_cell)[inside]] = True
    placed = (keys.notna() | cells.notna()).to_numpy(dtype=bool)
    elsewhere = placed & ~here
    if not elsewhere.any():
        return located
    ids = located.index[elsewhere]
    share = float(elsewhere.sum() / max(int(placed.sum()), 1))
    examples = ", ".join(str(i) for i in ids[:5]) + (" …" if len(ids) > 5 else "")
    if share > MAX_ELSEWHERE_SHARE:
        raise DataCoverageError(
            msg(
                "{n} des {total} réponses localisées de {file} sont hors du quartier « {name} » "
                "et de sa zone tampon ({examples}) : c'est sans doute l'enquête d'un autre "
                "quartier. Vérifiez le fichier et l'extrait ; au plus {max_share} % des réponses "
                "peuvent être situées ailleurs.",
                n=int(elsewhere.sum()),
                total=int(placed.sum()),
                file=file.name,
                name=layers.territory.name,
                examples=examples,
                max_share=number(100 * MAX_ELSEWHERE_SHARE, decimals=0),
            ),
            path=file,
        )
    warnings.warn(
        QetGeoWarning(
            msg(
                "{n} réponse(s) de {file} situées hors du quartier et de sa zone tampon sont "
                "écartées : {examples}.",
                n=int(elsewhere.sum()),
                file=file.name,
                examples=examples,
            )
        ),
        stacklevel=3,
    )
    out = located.loc[~elsewhere]
    out.attrs.update(located.attrs)
    return out


def _read_table(file: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    import geopandas as gpd

    try:
        if file.suffix.lower() == ".gpkg":
            frame: pd.DataFrame = gpd.read_file(file)
        else:
            try:
                frame = gpd.read_parquet(file)
            except (ValueError, KeyError, TypeError):
                frame = pd.read_parquet(file)
    except Exception as err:
        raise InputFileError(
            msg(
                "{file} n'est pas une table GeoPackage ou Parquet lisible : {err}.",
                file=file,
                err=err,
            ),
            path=file,
        ) from err
    if "respondent_id" in frame.columns:
        frame = frame.set_index("respondent_id")
    elif frame.index.name != "respondent_id":
        frame.index = pd.Index([f"R{i + 1:06d}" for i in range(len(frame))], name="respondent_id")
    frame.index = frame.index.astype(str)
    present = [u for u in USAGES if u in frame.columns]
    if not present:
        raise ValidationError(
            msg(
                "{file} n'a aucune colonne d'usage ({usages}).",
                file=file,
                usages=", ".join(USAGES),
            )
        )
    answers = pd.DataFrame(index=frame.index)
    for usage in USAGES:
        if usage not in frame.columns:
            answers[usage] = pd.array([pd.NA] * len(frame), dtype="Int8")
            continue
        levels = pd.to_numeric(frame[usage], errors="coerce")
        bad = frame[usage].notna() & ~levels.isin([1, 2, 3])
        if bad.any():
            raise ValidationError(
                msg(
                    "{file} : la colonne {usage} doit contenir les niveaux 1, 2 ou 3 (par exemple "
                    "« {example} ») ; lisez plutôt les réponses en libellés depuis un fichier "
                    "d'enquête CSV.",
                    file=file,
                    usage=usage,
                    example=frame[usage][bad].iloc[0],
                )
            )
        answers[usage] = levels.astype("Int8")
    for col in ("age_band", "gender", "csp", "synthetic"):
        if col in frame.columns:
            answers[col] = frame[col].to_numpy()
    locations = pd.DataFrame(index=frame.index)
    for col in ("building_key", "cell_id", "lon", "lat", "x", "y", "iris_code"):
        if col in frame.columns:
            locations[col] = frame[col].astype("string").to_numpy()
    if (
        isinstance(frame, gpd.GeoDataFrame)
        and frame.crs is not None
        and "lon" not in locations.columns
    ):
        points = frame.geometry.to_crs(WORK_CRS)
        valid = points.notna() & ~points.is_empty
        xs = np.full(len(points), np.nan)
        ys = np.full(len(points), np.nan)
        xs[valid.to_numpy()] = points[valid].x.to_numpy()
        ys[valid.to_numpy()] = points[valid].y.to_numpy()
        locations["x"] = pd.array(xs, dtype="Float64").astype("string")
        locations["y"] = pd.array(ys, dtype="Float64").astype("string")
    return answers, locations


def _read_survey(file: Path) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    from qet_geo.surveys.su import read_su
    from qet_geo.surveys.synthetic import survey_synthetic_label

    with warnings.catch_warnings():
        # the synthetic flag of a file written by ``qet survey synthesize`` is not an answer:
        # synthetic respondents are known by their SYN- ids
        warnings.filterwarnings(
            "ignore",
            message=r".*columns \['synthetic'\] were not recognised.*",
            category=QetGeoWarning,
        )
        read = read_su(file)
    answers = read.answers.copy()
    # the reader keeps the home's building_key with the other location columns
    locations = read.locations.copy()
    locations.index = answers.index
    return answers, locations, survey_synthetic_label(read, file, name=file.name)


def _locate_answers(
    answers: pd.DataFrame, locations: pd.DataFrame, layers: NeighbourhoodLayers
) -> pd.DataFrame:
    from qet_geo.privacy import coarsen_locations
    from qet_geo.surveys.geocode import locate_homes
    from qet_geo.surveys.schema import LOCATION_COLUMNS

    buildings = layers.layers.get("buildings")
    keys = pd.Series(pd.NA, index=answers.index, dtype="string")
    if "building_key" in locations.columns:
        keys = locations["building_key"].astype("string").str.strip()
        keys = keys.where(keys.str.len() > 0)
    cells = pd.Series(pd.NA, index=answers.index, dtype="string")
    rest = locations[[c for c in LOCATION_COLUMNS if c in locations.columns]]
    if "building_key" not in locations.columns and rest.columns.empty:
        raise ValidationError(
            msg(
                "Les réponses n'ont aucune colonne de localisation (building_key, lon/lat, x/y, "
                "cell_id, adresse) : leurs logements ne peuvent pas être reliés aux contraintes "
                "bâties."
            )
        )
    todo = keys.isna().to_numpy(dtype=bool)
    if todo.any() and not rest.columns.empty:
        has_address = any(c in rest.columns for c in ("address", "street"))
        located = locate_homes(
            rest.loc[todo],
            addresses=layers.layers.get("addresses") if has_address else None,
            buildings=buildings,
        )
        coarse = coarsen_locations(located)
        keys.loc[coarse.index] = coarse["building_key"].astype("string")
        cells.loc[coarse.index] = coarse["cell_id"].astype("string")
    if "cell_id" in locations.columns:
        given = locations["cell_id"].astype("string")
        cells = cells.fillna(given)
    if buildings is not None and keys.notna().any():
        from qet_geo.inputs.census import point_to_cell_id

        known = keys.notna() & keys.isin(buildings.index.astype(str)) & cells.isna()
        if known.any():
            points = buildings.loc[keys[known].to_numpy(dtype=str)].geometry.representative_point()
            points.index = keys[known].index
            cells.loc[known] = point_to_cell_id(points).astype("string").to_numpy()
    out = answers.copy()
    out["building_key"] = keys.to_numpy()
    out["cell_id"] = cells.to_numpy()
    out["building_key"] = out["building_key"].astype("string")
    out["cell_id"] = out["cell_id"].astype("string")
    return out
