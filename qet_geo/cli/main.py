"""The ``qet`` command.

Thin: every command parses its options, calls public library functions and prints. Heavy libraries
are imported inside the commands so that ``qet --help`` starts at once. Errors of the library
(:class:`qet_geo.errors.QetGeoError`) become one line on stderr and exit code 2, never a traceback.
Messages are French by default; ``--lang en`` or ``QET_LANG=en`` switches to English.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from qet_geo.cli._common import (
    BufferOpt,
    CensusOpt,
    CommuneOpt,
    CommunesLayerOpt,
    DemOpt,
    GtfsOpt,
    Homes,
    IrisLayerOpt,
    IrisOpt,
    Mode,
    ModeOpt,
    OsmFileArg,
    TerritoryOpt,
    _fail,
    _progress,
    _state,
    _t,
    _territory,
    _user_errors,
    out_console,
)
from qet_geo.cli.links import links
from qet_geo.cli.national import national_app
from qet_geo.cli.profiles import profiles
from qet_geo.cli.route import route
from qet_geo.cli.serve import serve
from qet_geo.cli.store import store_app
from qet_geo.cli.survey import survey_app
from qet_geo.cli.synth import synthesize
from qet_geo.crs import WGS84

app = typer.Typer(
    name="qet",
    help="qet-geo : analyse géographique des Quartiers en Transitions (couches, contraintes "
    "bâties, profils d'usages).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

survey_app.command("synthesize")(synthesize)
app.command("profiles")(profiles)
app.command("links")(links)
app.command("route")(route)
app.add_typer(national_app, name="national")
app.command("serve")(serve)
app.add_typer(store_app, name="store")
app.add_typer(survey_app, name="survey")


@app.callback()
def main(
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="Langue des messages : fr (défaut) ou en.", show_default=False),
    ] = None,
) -> None:
    """qet-geo : couches, contraintes bâties et profils d'usages des quartiers."""
    lang = lang or os.environ.get("QET_LANG", "fr")
    if lang not in ("fr", "en"):
        _state["lang"] = "fr"
        _fail(f"langue inconnue {lang!r} : utilisez fr ou en.")
    _state["lang"] = lang


@app.command()
def layers(
    osm_file: OsmFileArg,
    out: Annotated[
        Path, typer.Option("--out", help="Dossier de sortie (layers.gpkg y est écrit).")
    ],
    territory: TerritoryOpt = None,
    iris: IrisOpt = None,
    iris_layer: IrisLayerOpt = None,
    commune: CommuneOpt = None,
    communes_layer: CommunesLayerOpt = None,
    buffer: BufferOpt = 1000.0,
    census: CensusOpt = None,
    dem: DemOpt = None,
    landcover: Annotated[
        Path | None, typer.Option(help="Occupation du sol (raster Corine Land Cover).")
    ] = None,
    gtfs: GtfsOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Affiche un résumé JSON (nombre d'objets par couche).")
    ] = False,
) -> None:
    """Lit toutes les couches d'un quartier et les écrit dans DIR/layers.gpkg."""
    with _user_errors(), _progress(not as_json and sys.stderr.isatty()) as step:
        from qet_geo.layers import build_layers, write_layers

        area = _territory(territory, iris, iris_layer, commune, communes_layer, buffer)
        result = build_layers(
            osm_file,
            territory=area,
            census=census,
            iris_layer=iris_layer,
            dem=dem,
            landcover=landcover,
            gtfs=gtfs,
            progress=step,
        )
        step("write")
        path = write_layers(result, out)
    counts = result.counts()
    if as_json:
        summary = {
            "output": str(path),
            "territory": result.territory.name,
            "area_km2": round(result.territory.area_km2, 3),
            "buffer_m": result.territory.buffer_m,
            "layers": counts,
            "missing_nodes": result.osm.missing.missing_nodes,
        }
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    out_console.print(
        _t("Couches écrites dans [bold]{path}[/] :", path=path),
        highlight=False,
    )
    for name, n in counts.items():
        out_console.print(f"  {name:<15} {n:>7}", highlight=False)


@app.command()
def access(
    osm_file: OsmFileArg,
    out: Annotated[Path, typer.Option("--out", help="Fichier de sortie (.parquet ou .gpkg).")],
    mode: ModeOpt = "walk",
    territory: TerritoryOpt = None,
    iris: IrisOpt = None,
    iris_layer: IrisLayerOpt = None,
    commune: CommuneOpt = None,
    communes_layer: CommunesLayerOpt = None,
    buffer: BufferOpt = 1000.0,
    census: CensusOpt = None,
    dem: DemOpt = None,
    gtfs: GtfsOpt = None,
    homes: Annotated[
        str, typer.Option(help="Logements : buildings (bâtiments) ou cells (carreaux 200 m).")
    ] = "buildings",
    as_json: Annotated[
        bool, typer.Option("--json", help="Affiche un résumé JSON (score 15 minutes, etc.).")
    ] = False,
) -> None:
    """Mesure, logement par logement, l'accès à pied ou à vélo aux équipements du quotidien."""
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".gpkg"):
        _fail(_t("--out {out} : utilisez un fichier .parquet ou .gpkg.", out=out))
    if mode not in ("walk", "bike"):
        _fail(_t("--mode {mode} : utilisez walk ou bike.", mode=mode))
    with _user_errors(), _progress(not as_json and sys.stderr.isatty()) as step:
        from qet_geo.constraints.access import score_distribution
        from qet_geo.layers import write_table
        from qet_geo.pipeline import build_neighbourhood

        area = _territory(territory, iris, iris_layer, commune, communes_layer, buffer)
        hood = build_neighbourhood(
            osm_file,
            territory=area,
            census=census,
            dem=dem,
            gtfs=gtfs,
            modes=(cast(Mode, mode),),
            homes=cast(Homes, homes),
            progress=step,
        )
        table = hood.access[cast(Mode, mode)]
        step("write")
        path = write_table(table, out, layer=f"access_{mode}")
        dist = score_distribution(table)
    from qet_geo.constraints.indicators import SCORE_MIN, nearest_min
    from qet_geo.taxonomy import CATEGORIES

    median_minutes = {
        c: round(float(table[nearest_min(c)].median()), 2)
        for c in CATEGORIES
        if nearest_min(c) in table and table[nearest_min(c)].notna().any()
    }
    summary = {
        "output": str(path),
        "mode": mode,
        "homes": len(table),
        "off_network": int(table["off_network"].sum()),
        "weighted_score_15min": round(dist.attrs["weighted_mean"], 4),
        "score_15min_shares": {f"{k:.3f}": round(v, 4) for k, v in dist["share"].items()},
        "median_minutes": median_minutes,
    }
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    out_console.print(
        _t(
            "{n_table} logements mesurés ({mode}) : [bold]{path}[/]",
            n_table=len(table),
            mode=mode,
            path=path,
        ),
        highlight=False,
    )
    out_console.print(
        _t("Score {minutes} minutes moyen (pondéré) : ", minutes=SCORE_MIN)
        + f"{summary['weighted_score_15min']:.0%}",
        highlight=False,
    )
    for cat, minutes in median_minutes.items():
        out_console.print(f"  {cat:<20} {minutes:>6.1f} min " + _t("(médiane)"), highlight=False)


@app.command()
def isochrone(
    osm_file: OsmFileArg,
    at: Annotated[
        str, typer.Option("--at", help="Point(s) de départ LON,LAT (plusieurs : séparés par ;).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Fichier GeoJSON de sortie (WGS84).")],
    minutes: Annotated[str, typer.Option(help="Durées en minutes, séparées par des virgules.")] = (
        "5,10,15"
    ),
    mode: ModeOpt = "walk",
    dem: DemOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Affiche un résumé JSON.")] = False,
) -> None:
    """Dessine les isochrones à pied ou à vélo autour d'un ou plusieurs points, le long des rues."""
    try:
        coords = [[float(v) for v in p.split(",")] for p in at.split(";") if p.strip()]
        times = [float(m) for m in minutes.split(",") if m.strip()]
    except ValueError:
        _fail(_t("--at attend LON,LAT (ex. -3.36,47.75) et --minutes des nombres (ex. 5,10,15)."))
    if not coords or any(len(p) != 2 for p in coords) or not times:
        _fail(_t("--at attend LON,LAT (ex. -3.36,47.75)."))
    if mode not in ("walk", "bike"):
        _fail(_t("--mode {mode} : utilisez walk ou bike.", mode=mode))
    if out.suffix.lower() not in (".geojson", ".json"):
        _fail(_t("--out {out} : utilisez un fichier .geojson.", out=out))
    with _user_errors():
        from qet_geo.constraints.access import isochrones_from_extract
        from qet_geo.layers import write_table

        points = [(p[0], p[1]) for p in coords]
        shapes = isochrones_from_extract(
            osm_file, points, minutes=times, mode=cast(Mode, mode), dem=dem
        )
        path = write_table(shapes.to_crs(WGS84), out)
    rows = [
        {"point": int(r.point), "minutes": float(r.minutes), "area_km2": round(r.area_km2, 4)}
        for r in shapes.itertuples()
    ]
    if as_json:
        typer.echo(json.dumps({"output": str(path), "mode": mode, "isochrones": rows}))
        return
    out_console.print(
        _t("Isochrones écrites dans [bold]{path}[/] :", path=path),
        highlight=False,
    )
    for r in rows:
        out_console.print(
            f"  point {r['point']}  {r['minutes']:>4.0f} min  {r['area_km2']:.3f} km²",
            highlight=False,
        )


@app.command()
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


@app.command()
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


def run() -> None:  # pragma: no cover - console entry point helper
    """Run the CLI (used by ``python -m qet_geo``)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    run()
