"""``qet perceived``: measured against perceived access, per 200 m zone and for the neighbourhood.

The command is defined here as a plain function; :mod:`qet_geo.cli.main` registers it. It reads
located MdV/EdV answers (:func:`qet_geo.analysis.perceived.read_located_mdv`), builds the
neighbourhood's layers and its access on foot and by bike, and writes the published tables of
:func:`qet_geo.analysis.perceived.perceived_access`: JSON (:meth:`PerceivedAccess.to_dict`, zone
geometries in WGS84) or CSV (:meth:`PerceivedAccess.table`, headers in the command's language).
Only protected aggregates are written or printed.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from qet_geo.cli._common import (
    BufferOpt,
    CensusOpt,
    CommuneOpt,
    CommunesLayerOpt,
    DemOpt,
    GtfsOpt,
    IrisLayerOpt,
    IrisOpt,
    OsmFileArg,
    TerritoryOpt,
)
from qet_geo.i18n import msg, number

if TYPE_CHECKING:
    from qet_geo.analysis.perceived import PerceivedAccess
    from qet_geo.i18n import Lang

__all__ = ["perceived"]

_ANSWER_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx")
_OUT_SUFFIXES = (".json", ".csv")


def perceived(
    answers_file: Annotated[
        Path,
        typer.Argument(
            help="Réponses MdV/EdV (CSV, TSV, XLSX) avec le logement de chaque répondant : "
            "building_key, lon/lat, carreau ou adresse."
        ),
    ],
    osm_file: OsmFileArg,
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Fichier de sortie .json ou .csv (agrégats protégés seulement)."
        ),
    ],
    territory: TerritoryOpt = None,
    iris: IrisOpt = None,
    iris_layer: IrisLayerOpt = None,
    commune: CommuneOpt = None,
    communes_layer: CommunesLayerOpt = None,
    buffer: BufferOpt = 1000.0,
    census: CensusOpt = None,
    dem: DemOpt = None,
    gtfs: GtfsOpt = None,
) -> None:
    """Confronte l'accès perçu (enquête MdV/EdV) à l'accès mesuré depuis les mêmes logements."""
    from qet_geo.cli._common import _fail, _progress, _state, _t, _territory, _user_errors

    if out.suffix.lower() not in _OUT_SUFFIXES:
        _fail(_t("--out {out} : utilisez un fichier .json ou .csv.", out=out))
    if answers_file.suffix.lower() not in _ANSWER_SUFFIXES:
        _fail(
            _t(
                "{answers_file} : format non reconnu ; donnez un fichier {suffixes}.",
                answers_file=answers_file,
                suffixes=", ".join(_ANSWER_SUFFIXES),
            )
        )
    lang = cast("Lang", _state["lang"])  # checked by the qet callback
    with _user_errors(), _progress(sys.stderr.isatty()) as step:
        from qet_geo.analysis.perceived import perceived_access, read_located_mdv
        from qet_geo.constraints.access import neighbourhood_access
        from qet_geo.pipeline import build_neighbourhood

        area = _territory(territory, iris, iris_layer, commune, communes_layer, buffer)
        hood = build_neighbourhood(
            osm_file,
            territory=area,
            census=census,
            dem=dem,
            gtfs=gtfs,
            modes=("walk", "bike"),
            progress=step,
        )
        layers = hood.layers
        cell_access = (
            neighbourhood_access(layers, mode="walk", homes="cells", network=hood.networks["walk"])
            if "cells" in layers.layers
            else None
        )
        step(_t("Réponses et localisation"))
        answers = read_located_mdv(answers_file, layers)
        step(_t("Accès mesuré et accès perçu"))
        result = perceived_access(
            answers,
            hood.access["walk"],
            bike_access=hood.access["bike"],
            cell_access=cell_access,
            lang=lang,
        )
        step("write")
        try:
            _write(result, out, territory=layers.territory.name)
        except OSError as err:
            _fail(
                _t(
                    "--out {out} : écriture impossible ({reason}).",
                    out=out,
                    reason=err.strerror or err,
                )
            )
    _print_summary(result, out)


def _write(result: PerceivedAccess, path: Path, *, territory: str) -> None:
    """Write the published tables atomically: a failed run leaves no half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            if path.suffix.lower() == ".json":
                data: dict[str, Any] = {"territory": territory, **result.to_dict()}
                json.dump(data, fh, ensure_ascii=False, indent=1, allow_nan=False)
            else:
                labels = result.labels(result.lang)
                table = result.table()
                table.columns = [labels.get(str(c), str(c)) for c in table.columns]
                table.to_csv(fh, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _print_summary(result: PerceivedAccess, out: Path) -> None:
    """Print, per question, the shares of the method's two kinds of gap for the neighbourhood."""
    import math

    import pandas as pd

    from qet_geo.analysis.perceived import CATEGORY_LABELS, QUESTIONS
    from qet_geo.cli._common import _t, out_console

    lang = result.lang

    def pct(value: float) -> str:
        if value is None or math.isnan(value):
            return "—"
        return number(round(100 * value), decimals=0).render(lang) + " %"

    synthetic = _t(" [bold]synthétiques[/]") if result.synthetic else ""
    n = result.n_located
    out_console.print(
        _t(
            "Accès mesuré et accès perçu sur {n} réponses MdV{synthetic} localisées : "
            "[bold]{out}[/]",
            n=n if n is not None else msg("moins de 11"),
            synthetic=synthetic,
            out=out,
        ),
        highlight=False,
        soft_wrap=True,
    )
    missing = CATEGORY_LABELS["offer_missing"].render(lang)
    unknown = CATEGORY_LABELS["offer_unknown_or_unused"].render(lang)
    out_console.print(
        _t("  colonnes : « {missing} » | « {unknown} »", missing=missing, unknown=unknown),
        highlight=False,
        soft_wrap=True,
    )
    zones = result.zones
    for key, row in result.neighbourhood.iterrows():
        label = QUESTIONS[str(key)].label.render(lang)
        if pd.isna(row["n_respondents"]):
            out_console.print(
                f"  {label} : " + _t("moins de 11 réponses comparables, rien n'est publié"),
                highlight=False,
                soft_wrap=True,
            )
            continue
        n_zones = int((zones.index.get_level_values("question") == key).sum())
        out_console.print(
            f"  {label} : {pct(row['share_offer_missing'])} | "
            f"{pct(row['share_offer_unknown_or_unused'])} "
            + _t(
                "({n} réponses, {zones} zones)",
                n=int(row["n_respondents"]),
                zones=n_zones,
            ),
            highlight=False,
            soft_wrap=True,
        )
