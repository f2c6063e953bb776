"""Shared pieces of the ``qet`` commands: language, one-line errors, progress, common options.

Every command module (:mod:`qet_geo.cli.main`, ``_cli_survey``, ``_cli_synth``, ``_cli_profiles``...)
imports these from here, so that messages, exit codes and options are the same everywhere.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from qet_geo.errors import QetGeoError, QetGeoWarning
from qet_geo.i18n import msg

_state: dict[str, str] = {"lang": os.environ.get("QET_LANG", "fr")}
err_console = Console(stderr=True)
out_console = Console()

_STEP_LABELS = {
    "osm": msg("Lecture de l'extrait OSM"),
    "streets": msg("Graphes des rues"),
    "census": msg("Recensement et population des bâtiments"),
    "relief": msg("Pentes (MNT)"),
    "landcover": msg("Occupation du sol"),
    "gtfs": msg("Horaires de transport (GTFS)"),
    "write": msg("Écriture des résultats"),
    "access": msg("Accessibilité logement par logement"),
    "layers": msg("Couches du quartier"),
    "surveys": msg("Réponses aux enquêtes"),
    "profiles": msg("Profils d'usages"),
    "footprints": msg("Empreintes carbone"),
    "links": msg("Liens usages-contraintes"),
    "maps": msg("Cartes"),
    "route": msg("Visite du quartier"),
    "report": msg("Exposition du forum"),
}


def _t(template: str, /, **fields: Any) -> str:
    """Render a French template of the catalogue in the command's language (``--lang``)."""
    return msg(template, **fields).render(_state["lang"])


def _fail(message: str) -> NoReturn:
    err_console.print(
        _t("[bold red]Erreur :[/] {message}", message=message), soft_wrap=True, highlight=False
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
            _fail(_t("mémoire insuffisante pour ce traitement : réduisez le territoire."))
        _flush_warnings(caught)


def _flush_warnings(caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        warning = w.message
        if isinstance(warning, QetGeoWarning):
            text = warning.localized(_state["lang"])
        else:
            text = str(warning)
        if isinstance(warning, QetGeoWarning) or issubclass(w.category, UserWarning):
            err_console.print(
                _t("[yellow]Attention :[/] {text}", text=text), soft_wrap=True, highlight=False
            )


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    """Yield a step callback that shows a progress line per step (nothing when disabled)."""
    if not enabled:
        yield lambda name: None
        return
    lang = _state["lang"]
    labels = {name: text.render(lang) for name, text in _STEP_LABELS.items()}
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


# options shared by the commands that read a neighbourhood
OsmFileArg = Annotated[
    Path, typer.Argument(help="Extrait OSM (.osm, .osm.gz, .osm.bz2, .osm.pbf).")
]
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


def _territory(
    territory: Path | None,
    iris: str | None,
    iris_layer: Path | None,
    commune: str | None,
    communes_layer: Path | None,
    buffer: float,
) -> Any:
    """Read the territory options (one definition at most); None means the extract's bounds."""
    from qet_geo.inputs.territory import territory_from_options

    return territory_from_options(
        territory=territory,
        iris=iris,
        iris_layer=iris_layer,
        commune=commune,
        communes_layer=communes_layer,
        buffer_m=buffer,
    )
