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
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from qet_geo._cli_profiles import profiles
from qet_geo._cli_survey import survey_app
from qet_geo._cli_synth import synthesize
from qet_geo.errors import QetGeoError, QetGeoWarning

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
app.add_typer(survey_app, name="survey")

Mode = Literal["walk", "bike"]
Homes = Literal["buildings", "cells"]

_state: dict[str, str] = {"lang": os.environ.get("QET_LANG", "fr")}
err_console = Console(stderr=True)
out_console = Console()

_STEP_LABELS = {
    "fr": {
        "osm": "Lecture de l'extrait OSM",
        "streets": "Graphes des rues",
        "census": "Recensement et population des bâtiments",
        "relief": "Pentes (MNT)",
        "landcover": "Occupation du sol",
        "gtfs": "Horaires de transport (GTFS)",
        "write": "Écriture des résultats",
        "access": "Accessibilité logement par logement",
    },
    "en": {
        "osm": "Reading the OSM extract",
        "streets": "Street graphs",
        "census": "Census and building population",
        "relief": "Slopes (DEM)",
        "landcover": "Land cover",
        "gtfs": "Transit timetables (GTFS)",
        "write": "Writing the results",
        "access": "Accessibility, home by home",
    },
}


def _t(fr: str, en: str) -> str:
    return fr if _state["lang"] == "fr" else en


def _fail(message: str) -> NoReturn:
    prefix = _t("Erreur", "Error")
    err_console.print(
        f"[bold red]{prefix} :[/] {message}"
        if _state["lang"] == "fr"
        else f"[bold red]{prefix}:[/] {message}",
        soft_wrap=True,
        highlight=False,
    )
    raise typer.Exit(code=2)


@contextmanager
def _user_errors() -> Iterator[list[str]]:
    """Turn library errors into one line and exit code 2; collect data warnings as lines."""
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", QetGeoWarning)
        try:
            yield notes
        except QetGeoError as err:
            _flush_warnings(caught)
            _fail(err.localized(_state["lang"]))
        except (KeyboardInterrupt, typer.Exit):
            raise
        except MemoryError:
            _fail(
                _t(
                    "mémoire insuffisante pour ce traitement : réduisez le territoire.",
                    "out of memory: use a smaller territory.",
                )
            )
        _flush_warnings(caught)


def _flush_warnings(caught: list[warnings.WarningMessage]) -> None:
    label = _t("Attention", "Warning")
    for w in caught:
        msg = w.message
        text = msg.localized(_state["lang"]) if isinstance(msg, QetGeoWarning) else str(msg)
        if isinstance(msg, QetGeoWarning) or issubclass(w.category, UserWarning):
            err_console.print(f"[yellow]{label} :[/] {text}", soft_wrap=True, highlight=False)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    """Yield a step callback that shows a progress line per step (nothing when disabled)."""
    if not enabled:
        yield lambda name: None
        return
    labels = _STEP_LABELS[_state["lang"]]
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        current: dict[str, Any] = {}

        def step(name: str) -> None:
            if "task" in current:
                bar.update(current["task"], completed=1)
            current["task"] = bar.add_task(labels.get(name, name), total=1)

        yield step
        if "task" in current:
            bar.update(current["task"], completed=1)


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


# options shared by the commands that read a neighbourhood
TerritoryOpt = Annotated[
    Path | None, typer.Option(help="Polygone du quartier (GeoJSON, GeoPackage, shapefile).")
]
IrisOpt = Annotated[
    str | None, typer.Option(help="Codes IRIS du quartier, séparés par des virgules.")
]
IrisLayerOpt = Annotated[Path | None, typer.Option(help="Contours IRIS (IGN).")]
CommuneOpt = Annotated[str | None, typer.Option(help="Code INSEE de la commune.")]
CommunesLayerOpt = Annotated[
    Path | None, typer.Option(help="Couche des communes (avec --commune).")
]
BufferOpt = Annotated[
    float, typer.Option("--buffer", help="Tampon autour du territoire, en mètres.")
]
CensusOpt = Annotated[
    Path | None,
    typer.Option(help="Grille INSEE 200 m (Filosofi) ou table du recensement par IRIS."),
]
DemOpt = Annotated[Path | None, typer.Option(help="Modèle numérique de terrain (raster).")]
GtfsOpt = Annotated[Path | None, typer.Option(help="Flux GTFS (zip).")]
ModeOpt = Annotated[str, typer.Option("--mode", help="Mode : walk (marche) ou bike (vélo).")]


@app.command()
def layers(
    osm_file: Annotated[
        Path, typer.Argument(help="Extrait OSM (.osm, .osm.gz, .osm.bz2, .osm.pbf).")
    ],
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
        _t(f"Couches écrites dans [bold]{path}[/] :", f"Layers written to [bold]{path}[/]:"),
        highlight=False,
    )
    for name, n in counts.items():
        out_console.print(f"  {name:<15} {n:>7}", highlight=False)


@app.command()
def access(
    osm_file: Annotated[
        Path, typer.Argument(help="Extrait OSM (.osm, .osm.gz, .osm.bz2, .osm.pbf).")
    ],
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
        _fail(
            _t(
                f"--out {out} : utilisez un fichier .parquet ou .gpkg.",
                f"--out {out}: use a .parquet or .gpkg file.",
            )
        )
    if mode not in ("walk", "bike"):
        _fail(_t(f"--mode {mode} : utilisez walk ou bike.", f"--mode {mode}: use walk or bike."))
    with _user_errors(), _progress(not as_json and sys.stderr.isatty()) as step:
        from qet_geo.constraints import neighbourhood_access, score_distribution
        from qet_geo.layers import build_layers, write_table

        area = _territory(territory, iris, iris_layer, commune, communes_layer, buffer)
        result = build_layers(
            osm_file, territory=area, census=census, dem=dem, gtfs=gtfs, progress=step
        )
        step("access")
        table = neighbourhood_access(result, mode=cast(Mode, mode), homes=cast(Homes, homes))
        step("write")
        path = write_table(table, out, layer=f"access_{mode}")
        dist = score_distribution(table)
    median_minutes = {
        c[: -len("_min")]: round(float(table[c].median()), 2)
        for c in table.columns
        if c.endswith("_min") and table[c].notna().any()
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
            f"{len(table)} logements mesurés ({mode}) : [bold]{path}[/]",
            f"{len(table)} homes measured ({mode}): [bold]{path}[/]",
        ),
        highlight=False,
    )
    out_console.print(
        _t("Score 15 minutes moyen (pondéré) : ", "Mean 15-minute score (weighted): ")
        + f"{summary['weighted_score_15min']:.0%}",
        highlight=False,
    )
    for cat, minutes in median_minutes.items():
        out_console.print(
            f"  {cat:<20} {minutes:>6.1f} min " + _t("(médiane)", "(median)"), highlight=False
        )


@app.command()
def isochrone(
    osm_file: Annotated[
        Path, typer.Argument(help="Extrait OSM (.osm, .osm.gz, .osm.bz2, .osm.pbf).")
    ],
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
        _fail(
            _t(
                "--at attend LON,LAT (ex. -3.36,47.75) et --minutes des nombres (ex. 5,10,15).",
                "--at expects LON,LAT (e.g. -3.36,47.75) and --minutes numbers (e.g. 5,10,15).",
            )
        )
    if not coords or any(len(p) != 2 for p in coords) or not times:
        _fail(
            _t("--at attend LON,LAT (ex. -3.36,47.75).", "--at expects LON,LAT (e.g. -3.36,47.75).")
        )
    if mode not in ("walk", "bike"):
        _fail(_t(f"--mode {mode} : utilisez walk ou bike.", f"--mode {mode}: use walk or bike."))
    if out.suffix.lower() not in (".geojson", ".json"):
        _fail(
            _t(f"--out {out} : utilisez un fichier .geojson.", f"--out {out}: use a .geojson file.")
        )
    with _user_errors():
        from qet_geo.constraints import isochrones_from_extract
        from qet_geo.layers import write_table

        points = [(p[0], p[1]) for p in coords]
        shapes = isochrones_from_extract(
            osm_file, points, minutes=times, mode=cast(Mode, mode), dem=dem
        )
        path = write_table(shapes.to_crs(4326), out)
    rows = [
        {"point": int(r.point), "minutes": float(r.minutes), "area_km2": round(r.area_km2, 4)}
        for r in shapes.itertuples()
    ]
    if as_json:
        typer.echo(json.dumps({"output": str(path), "mode": mode, "isochrones": rows}))
        return
    out_console.print(
        _t(f"Isochrones écrites dans [bold]{path}[/] :", f"Isochrones written to [bold]{path}[/]:"),
        highlight=False,
    )
    for r in rows:
        out_console.print(
            f"  point {r['point']}  {r['minutes']:>4.0f} min  {r['area_km2']:.3f} km²",
            highlight=False,
        )


def _territory(
    territory: Path | None,
    iris: str | None,
    iris_layer: Path | None,
    commune: str | None,
    communes_layer: Path | None,
    buffer: float,
) -> Any:
    """Read the territory options (one definition at most); None means the extract's bounds."""
    from qet_geo import territory as terr

    given = [x for x in (territory, iris, commune) if x is not None]
    if len(given) > 1:
        _fail(
            _t(
                "donnez une seule définition du territoire : --territory, --iris ou --commune.",
                "give one territory definition only: --territory, --iris or --commune.",
            )
        )
    if iris is not None:
        if iris_layer is None:
            _fail(
                _t(
                    "--iris demande la couche des contours IRIS : ajoutez --iris-layer FICHIER.",
                    "--iris needs the IRIS contours: add --iris-layer FILE.",
                )
            )
        codes = [c.strip() for c in iris.split(",") if c.strip()]
        return terr.territory_from_iris(codes, iris_layer, buffer_m=buffer)
    if commune is not None:
        if communes_layer is None:
            _fail(
                _t(
                    "--commune demande la couche des communes : ajoutez --communes-layer FICHIER.",
                    "--commune needs the communes layer: add --communes-layer FILE.",
                )
            )
        return terr.territory_from_commune(commune, communes_layer, buffer_m=buffer)
    if territory is not None:
        return terr.territory_from_file(territory, buffer_m=buffer)
    return None


def run() -> None:  # pragma: no cover - console entry point helper
    """Run the CLI (used by ``python -m qet_geo``)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    run()
