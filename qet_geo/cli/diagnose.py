"""``qet diagnose`` and ``qet demo``: the whole diagnostic, from files to the forum exhibition.

Registered by :mod:`qet_geo.cli.main`; both call :func:`qet_geo.exhibition.diagnose.run_diagnostic`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from qet_geo.cli._common import (
    CensusOpt,
    DemOpt,
    GtfsOpt,
    TerritoryOpt,
    _fail,
    _progress,
    _state,
    _t,
    _user_errors,
    out_console,
)

__all__ = ["demo", "diagnose"]


def diagnose(
    out: Annotated[Path, typer.Option("--out", help="Dossier du rapport (index.html, cartes...).")],
    config: Annotated[
        Path | None, typer.Option("--config", help="Fichier TOML décrivant le diagnostic.")
    ] = None,
    osm_file: Annotated[Path | None, typer.Option("--osm", help="Extrait OSM.")] = None,
    survey: Annotated[
        Path | None, typer.Option(help="Réponses SU localisées (GeoPackage, Parquet, CSV...).")
    ] = None,
    synthetic: Annotated[
        int | None, typer.Option(help="Sans enquête : nombre de réponses SYNTHÉTIQUES (démo).")
    ] = None,
    territory: TerritoryOpt = None,
    census: CensusOpt = None,
    dem: DemOpt = None,
    gtfs: GtfsOpt = None,
    method: Annotated[
        str, typer.Option(help="Méthode des profils : ordinal-ward (défaut) ou near.")
    ] = "ordinal-ward",
    as_json: Annotated[bool, typer.Option("--json", help="Affiche un résumé JSON.")] = False,
) -> None:
    """Lance tout le diagnostic et écrit l'exposition du forum (index.html)."""
    with _user_errors(), _progress(not as_json and sys.stderr.isatty()) as step:
        from qet_geo.exhibition.diagnose import DiagnosticConfig, load_config, run_diagnostic

        if config is not None:
            cfg = load_config(config)
        else:
            if osm_file is None:
                _fail(_t("donnez --config FICHIER.toml, ou au moins --osm EXTRAIT."))
            cfg = DiagnosticConfig(
                osm=osm_file,
                territory=territory,
                census=census,
                dem=dem,
                gtfs=gtfs,
                survey=survey,
                synthetic=synthetic,
                profile_method=cast(Any, method),
                lang=cast(Any, _state["lang"]),
            )
        result = run_diagnostic(cfg, out, progress=step)
    _print_diagnostic(result, as_json)


def demo(
    out: Annotated[Path, typer.Option("--out", help="Dossier du rapport.")] = Path("out/demo"),
    n: Annotated[int, typer.Option("--n", help="Nombre de réponses synthétiques.")] = 600,
    as_json: Annotated[bool, typer.Option("--json", help="Affiche un résumé JSON.")] = False,
) -> None:
    """Diagnostic de démonstration : Lorient centre, réponses SYNTHÉTIQUES sur les bâtiments réels."""
    with _user_errors(), _progress(not as_json and sys.stderr.isatty()) as step:
        from qet_geo.exhibition.diagnose import DiagnosticConfig, run_diagnostic

        data = _shared_data()
        root = Path(__file__).resolve().parents[2]
        cfg = DiagnosticConfig(
            osm=data / "osm" / "lorient_centre.osm.pbf",
            name="Lorient centre",
            territory=root / "data" / "osm" / "lorient_centre.geojson",
            synthetic=n,
            lang=cast(Any, _state["lang"]),
        )
        result = run_diagnostic(cfg, out, progress=step)
    _print_diagnostic(result, as_json)


def _shared_data() -> Path:
    """The real data folder: $QET_SHARED_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get("QET_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [
        Path(__file__).resolve().parents[3] / "shared" / "data",
        Path.cwd().parent / "shared" / "data",
    ]
    for path in candidates:
        if (path / "osm" / "lorient_centre.osm.pbf").exists():
            return path
    _fail(
        _t(
            "données réelles introuvables : placez shared/ à côté du dépôt, ou indiquez "
            "QET_SHARED_DATA=/chemin/vers/shared/data."
        )
    )


def _print_diagnostic(result: Any, as_json: bool) -> None:
    summary = {
        "index": str(result.index),
        "synthetic": result.synthetic,
        "answers": result.n_answers,
        "homes": result.n_homes,
        "files": len(result.files),
        "timings_s": {k: round(v, 2) for k, v in result.timings_s.items()},
    }
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    label = _t("réponses SYNTHÉTIQUES") if result.synthetic else _t("réponses")
    out_console.print(
        _t(
            "Rapport écrit : [bold]{index}[/] ({n_answers} {label}, {n_homes} logements)",
            index=result.index,
            n_answers=result.n_answers,
            label=label,
            n_homes=result.n_homes,
        ),
        highlight=False,
    )
    for step_name, seconds in result.timings_s.items():
        out_console.print(f"  {step_name:<12} {seconds:6.1f} s", highlight=False)
