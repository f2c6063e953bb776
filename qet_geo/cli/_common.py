"""Shared pieces of the ``qet`` commands: language, one-line errors, progress, common options.

Every command module (:mod:`qet_geo.cli.main`, ``_cli_survey``, ``_cli_synth``, ``_cli_profiles``...)
imports these from here, so that messages, exit codes and options are the same everywhere.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from qet_geo.errors import QetGeoError, QetGeoWarning
from qet_geo.i18n import LANGS, msg

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


#: French for the words typer writes itself ("Usage:", "Options", "[required]"...): their source is
#: English, marked for :func:`gettext.gettext`; :func:`_speak_framework` routes them here.
_FRAMEWORK_FRENCH: dict[str, str] = {
    "Usage:": "Utilisation :",
    "Options": "Options",
    "Arguments": "Arguments",
    "Commands": "Commandes",
    "Error": "Erreur",
    "Aborted!": "Interrompu.",
    "Aborted.": "Interrompu.",
    "Show this message and exit.": "Affiche cette aide et quitte.",
    "Try [blue]'{command_path} {help_option}'[/] for help.": (
        "Pour l'aide : [blue]{command_path} {help_option}[/]"
    ),
    "Missing command.": "Commande manquante.",
    "No such command {name!r}.": "Commande inconnue : {name!r}.",
    "[default: {}]": "[défaut : {}]",
    "[env var: {}]": "[variable d'environnement : {}]",
    "[required]": "[obligatoire]",
    "(deprecated) ": "(obsolète) ",
    "default: {default}": "défaut : {default}",
    "env var: {var}": "variable d'environnement : {var}",
    "required": "obligatoire",
    "(dynamic)": "(dynamique)",
}
#: typer's texts computed once, when :mod:`typer.rich_utils` is imported.
_RICH_UTILS_TEXTS = {
    "DEPRECATED_STRING": "(deprecated) ",
    "DEFAULT_STRING": "[default: {}]",
    "ENVVAR_STRING": "[env var: {}]",
    "REQUIRED_LONG_STRING": "[required]",
    "ARGUMENTS_PANEL_TITLE": "Arguments",
    "OPTIONS_PANEL_TITLE": "Options",
    "COMMANDS_PANEL_TITLE": "Commands",
    "ERRORS_PANEL_TITLE": "Error",
    "ABORTED_TEXT": "Aborted.",
    "RICH_HELP": "Try [blue]'{command_path} {help_option}'[/] for help.",
}
#: French for the usage errors typer's parser writes as plain English (not marked for gettext):
#: each pattern, matched at the start of the message, and its French.
_FRAMEWORK_ERRORS_FRENCH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), french)
    for pattern, french in (
        (r"^Missing argument\b", "Argument manquant :"),
        (r"^Missing option\b", "Option manquante :"),
        (r"^Missing parameter\b:?", "Paramètre manquant :"),
        (r"^No such option: ", "Option inconnue : "),
        (r"\(Possible options: ([^)]*)\)", r"(options possibles : \1)"),
        (r"\. Did you mean (.*)\?$", r". Vouliez-vous dire \1 ?"),
        (r"^Invalid value for (.*?): ", r"Valeur invalide pour \1 : "),
        (r"^Invalid value: ", "Valeur invalide : "),
        (r"^Got unexpected extra argument\(s\)", "Argument(s) en trop"),
        (r"^Option ('[^']*') does not take a value\.", r"L'option \1 ne prend pas de valeur."),
        (r"^Option ('[^']*') requires an argument\.", r"L'option \1 attend une valeur."),
        (r"^Option ('[^']*') requires (\d+) arguments\.", r"L'option \1 attend \2 valeurs."),
        (r"^Argument ('[^']*') takes (\d+) values\.", r"L'argument \1 prend \2 valeurs."),
        (r"Value (.*) is not a valid (\w+)\.", r"\1 n'est pas un \2 valide."),
        (r"Input should be a valid integer.*$", "un nombre entier est attendu."),
        (r"Input should be a valid number.*$", "un nombre est attendu."),
        (r"Input should be a valid boolean.*$", "oui ou non (true/false) est attendu."),
        (
            r"Input should be greater than or equal to (.*)$",
            r"une valeur d'au moins \1 est attendue.",
        ),
        (r"Input should be less than or equal to (.*)$", r"une valeur d'au plus \1 est attendue."),
        (r"Input should be greater than (.*)$", r"une valeur de plus de \1 est attendue."),
        (r"Input should be less than (.*)$", r"une valeur de moins de \1 est attendue."),
        (r"Input should be (.*)$", r"valeur attendue : \1."),
        (r"(.*) is not in the range (.*)\.$", r"\1 n'est pas dans l'intervalle \2."),
        (r"\bdoes not exist\.$", "n'existe pas."),
        (r"\bis a directory\.$", "est un dossier."),
        (r"\bis a file\.$", "est un fichier."),
        (r"\bis not readable\.$", "ne peut pas être lu."),
        (r"\bis not writable\.$", "ne peut pas être écrit."),
        (r"^Choose from:", "Choisissez parmi :"),
        (r"\. Choose from:", ". Choisissez parmi :"),
    )
)


def _framework_text(message: str) -> str:
    """typer's ``gettext``: its English text in the command's language."""
    if _state["lang"] == "en":
        return message
    return _FRAMEWORK_FRENCH.get(message, message)


def _framework_plural(singular: str, plural: str, n: int) -> str:
    """typer's ``ngettext``, in the command's language."""
    return _framework_text(singular if n == 1 else plural)


def _speak_framework() -> None:
    """Make typer write its own words ("Usage:", "Options", "[required]") in the language.

    typer marks them for :mod:`gettext` (``from gettext import gettext as _``) and looks ``_``
    up in its module when a text is shown: routing it to :func:`_framework_text` gives the
    language of the running command, with no locale files or environment to set. It computes
    its panel titles once, at import: they are set again here, for this run. The usage errors
    of its parser are plain English: :func:`_framework_errors` translates them.
    """
    import typer.core
    import typer.rich_utils

    for module in (typer.core, typer.rich_utils):
        for name, function in (("_", _framework_text), ("ngettext", _framework_plural)):
            if hasattr(module, name):
                setattr(module, name, function)
    for name, english in _RICH_UTILS_TEXTS.items():
        setattr(typer.rich_utils, name, _framework_text(english))


def _framework_error(message: str) -> str:
    """A usage error of typer's parser ("Missing option '--out'.") in the command's language."""
    if _state["lang"] == "en":
        return message
    for pattern, french in _FRAMEWORK_ERRORS_FRENCH:
        message = pattern.sub(french, message)
    return message


@contextmanager
def _framework_errors() -> Iterator[None]:
    """Write the usage errors raised inside (a missing option, a bad value) in the language."""
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    try:
        yield
    except UsageError as err:
        if not isinstance(err, NoArgsIsHelpError):
            text = _framework_error(err.format_message())
            err.format_message = lambda: text  # type: ignore[method-assign]
        raise


def _chosen_lang(args: Sequence[str]) -> str:
    """The language a ``qet`` command line asks for: its last ``--lang``, else ``QET_LANG``.

    Read before click parses the line, so that ``--help`` and click's own errors are in it
    wherever ``--lang`` is written; an unknown language gives French (the ``--lang`` option
    then says so).
    """
    lang = os.environ.get("QET_LANG") or "fr"
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(args):
            lang = args[i + 1]
        elif arg.startswith("--lang="):
            lang = arg.partition("=")[2]
    return lang if lang in LANGS else "fr"


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
