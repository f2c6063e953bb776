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
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from qet_geo.errors import QetGeoError, QetGeoWarning

app = typer.Typer(
    name="qet",
    help="qet-geo : analyse géographique des Quartiers en Transitions (couches, contraintes "
    "bâties, profils d'usages).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

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
        "write": "Écriture du GeoPackage",
    },
    "en": {
        "osm": "Reading the OSM extract",
        "streets": "Street graphs",
        "census": "Census and building population",
        "relief": "Slopes (DEM)",
        "landcover": "Land cover",
        "gtfs": "Transit timetables (GTFS)",
        "write": "Writing the GeoPackage",
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


@app.command()
def layers(
    osm_file: Annotated[
        Path, typer.Argument(help="Extrait OSM (.osm, .osm.gz, .osm.bz2, .osm.pbf).")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Dossier de sortie (layers.gpkg y est écrit).")
    ],
    territory: Annotated[
        Path | None, typer.Option(help="Polygone du quartier (GeoJSON, GeoPackage, shapefile).")
    ] = None,
    iris: Annotated[
        str | None, typer.Option(help="Codes IRIS du quartier, séparés par des virgules.")
    ] = None,
    iris_layer: Annotated[Path | None, typer.Option(help="Contours IRIS (IGN).")] = None,
    commune: Annotated[str | None, typer.Option(help="Code INSEE de la commune.")] = None,
    communes_layer: Annotated[
        Path | None, typer.Option(help="Couche des communes (avec --commune).")
    ] = None,
    buffer: Annotated[
        float, typer.Option("--buffer", help="Tampon autour du territoire, en mètres.")
    ] = 1000.0,
    census: Annotated[
        Path | None,
        typer.Option(help="Grille INSEE 200 m (Filosofi) ou table du recensement par IRIS."),
    ] = None,
    dem: Annotated[Path | None, typer.Option(help="Modèle numérique de terrain (raster).")] = None,
    landcover: Annotated[
        Path | None, typer.Option(help="Occupation du sol (raster Corine Land Cover).")
    ] = None,
    gtfs: Annotated[Path | None, typer.Option(help="Flux GTFS (zip).")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Affiche un résumé JSON (nombre d'objets par couche).")
    ] = False,
) -> None:
    """Lit toutes les couches d'un quartier et les écrit dans DIR/layers.gpkg."""
    given = [x for x in (territory, iris, commune) if x is not None]
    if len(given) > 1:
        _fail(
            _t(
                "donnez une seule définition du territoire : --territory, --iris ou --commune.",
                "give one territory definition only: --territory, --iris or --commune.",
            )
        )
    if iris is not None and iris_layer is None:
        _fail(
            _t(
                "--iris demande la couche des contours IRIS : ajoutez --iris-layer FICHIER.",
                "--iris needs the IRIS contours: add --iris-layer FILE.",
            )
        )
    if commune is not None and communes_layer is None:
        _fail(
            _t(
                "--commune demande la couche des communes : ajoutez --communes-layer FICHIER.",
                "--commune needs the communes layer: add --communes-layer FILE.",
            )
        )
    with _user_errors(), _progress(not as_json and sys.stderr.isatty()) as step:
        from qet_geo import territory as terr
        from qet_geo.layers import build_layers, write_layers

        area = None
        if territory is not None:
            area = terr.territory_from_file(territory, buffer_m=buffer)
        elif iris is not None:
            assert iris_layer is not None
            codes = [c.strip() for c in iris.split(",") if c.strip()]
            area = terr.territory_from_iris(codes, iris_layer, buffer_m=buffer)
        elif commune is not None:
            assert communes_layer is not None
            area = terr.territory_from_commune(commune, communes_layer, buffer_m=buffer)
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


def run() -> None:  # pragma: no cover - console entry point helper
    """Run the CLI (used by ``python -m qet_geo``)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    run()
