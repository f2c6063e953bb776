"""``qet survey synthesize``: labelled-synthetic survey answers for demos on an OSM extract.

``--kind su`` (the default) makes SU answers on the buildings of the extract
(:func:`qet_geo.surveys.synthetic.synthesize_answers`), ``--kind mdv`` MdV/EdV answers on the same
homes (:func:`qet_geo.surveys.synthetic_others.synthetic_mdv`), ``--kind ngc`` NosGestesClimat results
of the respondents of a synthetic SU file (``--su``; :func:`qet_geo.surveys.synthetic_others.synthetic_ngc`):
with the same SYN- ids, the three files make one demo survey that a pilot can upload.

The command is defined here as a plain function, ready for ``typer``; :mod:`qet_geo.cli.main`
registers it. The helpers of :mod:`qet_geo.cli.main` (French messages, one-line errors with exit code
2) are imported when the command runs, so that either module can import the other first.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from qet_geo.cli._common import (
    BufferOpt,
    CensusOpt,
    CommuneOpt,
    CommunesLayerOpt,
    GtfsOpt,
    IrisLayerOpt,
    IrisOpt,
    TerritoryOpt,
)
from qet_geo.crs import WGS84

__all__ = ["OUTPUT_SUFFIXES", "synthesize"]

#: Output formats of the command.
OUTPUT_SUFFIXES: tuple[str, ...] = (".csv", ".gpkg", ".parquet")


def synthesize(
    osm_file: Annotated[
        Path | None,
        typer.Argument(
            help="Extrait OSM (.osm, .osm.gz, .osm.bz2, .osm.pbf) ; inutile pour --kind ngc."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Fichier de sortie : .csv, .gpkg ou .parquet (.csv seul pour mdv et ngc)."
        ),
    ] = None,
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="Enquête : su (profils d'usages, sur les bâtiments de l'extrait), mdv (modes et "
            "espaces de vie, sur les mêmes logements) ou ngc (empreinte NosGestesClimat des "
            "répondants du fichier SU donné par --su).",
        ),
    ] = "su",
    n: Annotated[int, typer.Option("--n", help="Nombre de réponses synthétiques (su, mdv).")] = 300,
    su_file: Annotated[
        Path | None,
        typer.Option(
            "--su",
            help="ngc : le fichier SU synthétique (qet survey synthesize) dont les répondants "
            "reçoivent une empreinte, sous les mêmes identifiants SYN-.",
        ),
    ] = None,
    share: Annotated[
        float,
        typer.Option(
            "--share", help="ngc : part des répondants SU qui ont aussi répondu à NosGestesClimat."
        ),
    ] = 1.0,
    planted: Annotated[
        int,
        typer.Option(
            "--planted",
            help="mdv : réponses plantées « l'offre manque » et « l'offre existe mais n'est pas "
            "connue » (autant de chaque), pour éprouver la méthode ; 0 par défaut.",
        ),
    ] = 0,
    seed: Annotated[
        int,
        typer.Option("--seed", help="Graine du tirage (mêmes graine et entrées, mêmes réponses)."),
    ] = 0,
    urban_category: Annotated[
        str,
        typer.Option(
            "--urban-category",
            help="Catégorie urbaine des parts modales ENTD 2008 : B (ville-centre), C (banlieue), "
            "I (ville isolée), R (rural).",
        ),
    ] = "B",
    territory: TerritoryOpt = None,
    iris: IrisOpt = None,
    iris_layer: IrisLayerOpt = None,
    commune: CommuneOpt = None,
    communes_layer: CommunesLayerOpt = None,
    buffer: BufferOpt = 1000.0,
    census: CensusOpt = None,
    gtfs: GtfsOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Affiche un résumé JSON (parts par niveau, etc.).")
    ] = False,
) -> None:
    """Génère des réponses synthétiques (étiquetées comme telles) : SU, MdV ou NGC."""
    from qet_geo.cli._common import _fail, _progress, _t, _territory, _user_errors

    if kind not in ("su", "mdv", "ngc"):
        _fail(_t("--kind {kind} : utilisez su, mdv ou ngc.", kind=kind))
    if out is None:
        _fail(_t("Donnez le fichier de sortie avec --out FICHIER (.csv, .gpkg ou .parquet)."))
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        _fail(_t("--out {out} : utilisez un fichier .csv, .gpkg ou .parquet.", out=out))
    if kind != "su" and suffix != ".csv":
        _fail(_t("--out {out} : les réponses MdV et NGC s'écrivent en .csv.", out=out))
    if kind == "ngc":
        if su_file is None:
            _fail(_t("--kind ngc : donnez le fichier SU synthétique avec --su FICHIER."))
        if not 0 < share <= 1:
            _fail(_t("--share {share} : donnez une part entre 0 (exclu) et 1.", share=share))
        with _user_errors():
            from qet_geo.surveys.synthetic_others import synthetic_ngc

            table = synthetic_ngc(su_file, share=share, seed=seed)
            path = _write_table(table, out)
        _other_summary(table, path, "ngc", seed, as_json)
        return
    if osm_file is None:
        _fail(_t("--kind {kind} : donnez l'extrait OSM.", kind=kind))
    if kind == "mdv" and not 0 <= planted <= 100_000:
        _fail(_t("--planted {planted} : donnez un nombre de 0 à 100 000.", planted=planted))
    if not 1 <= n <= 1_000_000:
        _fail(_t("--n {n} : donnez un nombre de réponses entre 1 et 1 000 000.", n=n))
    if urban_category.upper() not in ("B", "C", "I", "R"):
        _fail(
            _t(
                "--urban-category {urban_category} : utilisez B, C, I ou R.",
                urban_category=urban_category,
            )
        )
    with _user_errors(), _progress(not as_json and sys.stderr.isatty()) as step:
        from qet_geo.pipeline import build_neighbourhood
        from qet_geo.surveys.synthetic import synthesize_answers

        area = _territory(territory, iris, iris_layer, commune, communes_layer, buffer)
        hood = build_neighbourhood(
            osm_file, territory=area, census=census, gtfs=gtfs, modes=("walk",), progress=step
        )
        layers, access = hood.layers, hood.access["walk"]
        step(_t("Réponses synthétiques"))
        if kind == "mdv":
            from qet_geo.surveys.synthetic_others import synthetic_mdv

            table = synthetic_mdv(access, n=n, n_planted=planted, seed=seed)
            step("write")
            path = _write_table(table.drop(columns=["plant"]), out)
            answers = None
        else:
            answers = synthesize_answers(
                layers, n, seed=seed, access=access, urban_category=urban_category.upper()
            )
            step("write")
            path = _write(answers, out)
    if answers is None:
        _other_summary(table, path, "mdv", seed, as_json)
        return
    summary = _summary(answers, path)
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    from qet_geo.cli._common import _state, out_console
    from qet_geo.surveys.schema import USAGE_LABELS

    lang = _state["lang"]
    out_console.print(
        _t(
            "{summary_answers} réponses [bold]synthétiques[/] (identifiants SYN-…) sur "
            "{summary_buildings} bâtiments : [bold]{path}[/]",
            summary_answers=summary["answers"],
            summary_buildings=summary["buildings"],
            path=path,
        ),
        highlight=False,
    )
    out_console.print(_t("Parts des niveaux 1 / 2 / 3 :"), highlight=False)
    for usage, shares in summary["level_shares"].items():
        label = USAGE_LABELS[usage].render(lang)
        parts = " / ".join(f"{shares[str(lv)]:.0%}" for lv in (1, 2, 3))
        out_console.print(f"  {label:<22} {parts}", highlight=False)


def _summary(answers: Any, path: Path) -> dict[str, Any]:
    from qet_geo.surveys.schema import USAGES

    shares = {
        usage: {str(lv): round(float((answers[usage] == lv).mean()), 4) for lv in (1, 2, 3)}
        for usage in USAGES
    }
    return {
        "output": str(path),
        "answers": len(answers),
        "synthetic": True,
        "seed": answers.attrs.get("seed"),
        "urban_category": answers.attrs.get("urban_category"),
        "buildings": int(answers["building_key"].nunique()),
        "cells": int(answers["cell_id"].nunique()),
        "level_shares": shares,
    }


def _other_summary(table: Any, path: Path, kind: str, seed: int, as_json: bool) -> None:
    """Say what was written for --kind mdv or ngc (JSON or one line)."""
    from qet_geo.cli._common import _t, out_console

    summary = {
        "output": str(path),
        "kind": kind,
        "answers": len(table),
        "synthetic": True,
        "seed": seed,
    }
    if "building_key" in table.columns:
        summary["buildings"] = int(table["building_key"].nunique())
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    text = (
        _t(
            "{n} réponses MdV [bold]synthétiques[/] (identifiants SYN-…) sur {buildings} "
            "logements : [bold]{path}[/]",
            n=len(table),
            buildings=summary.get("buildings", 0),
            path=path,
        )
        if kind == "mdv"
        else _t(
            "{n} résultats NosGestesClimat [bold]synthétiques[/] des répondants SU (mêmes "
            "identifiants SYN-…) : [bold]{path}[/]",
            n=len(table),
            path=path,
        )
    )
    out_console.print(text, highlight=False)


def _write_table(table: Any, out: Path) -> Path:
    """Write a plain table as CSV, atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".csv", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        table.to_csv(tmp, index=False)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def _write(answers: Any, out: Path) -> Path:
    """Write the answers atomically: CSV with lon/lat (WGS84), or GeoPackage / GeoParquet."""
    from qet_geo.layers import write_table

    frame = answers.reset_index()
    frame.attrs = {}
    if out.suffix.lower() != ".csv":
        return write_table(frame, out, layer="synthetic_su")
    points = frame.geometry.to_crs(WGS84)
    table = frame.drop(columns=frame.geometry.name).assign(
        lon=points.x.round(6).to_numpy(), lat=points.y.round(6).to_numpy()
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".csv", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        table.to_csv(tmp, index=False)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
