"""``qet`` speaks the chosen language: help texts, typer's own words and usage errors.

French by default; ``--lang en`` (anywhere on the line) or ``QET_LANG=en`` for English. The help
texts are French in the code and English in the catalogue; typer's words ("Usage:", "Show this
message and exit.", "Missing option") are English in typer and French in ``qet_geo.cli._common``.
"""

from __future__ import annotations

import re

import pytest
import typer.main
from typer._click.core import Context
from typer.core import TyperGroup
from typer.testing import CliRunner

from qet_geo.cli.main import app

#: Words that give French away in an English screen (help texts and typer's words).
FRENCH = (
    "quartier",
    "fichier",
    "Fichier",
    " du ",
    " des ",
    " les ",
    " ou ",
    "Affiche",
    "Afficher",
    "Utilisation",
    "obligatoire",
    "défaut",
    "Commandes",
    "Erreur",
    "é",
    "è",
)
#: Words that give English away in a French screen (typer's own words).
ENGLISH = (
    "Usage:",
    "Show this message",
    "[required]",
    "[default:",
    "Commands",
    "Error",
    "Missing",
    "Try '",
    "for help",
    "Invalid value",
    "No such",
    "Did you mean",
)


def _commands() -> list[list[str]]:
    """The path of every command and group of ``qet`` (``[]`` for ``qet`` itself)."""
    paths: list[list[str]] = []

    def walk(command: object, path: list[str], parent: Context | None) -> None:
        paths.append(path)
        ctx = Context(command, info_name=(path or ["qet"])[-1], parent=parent)  # type: ignore[arg-type]
        if isinstance(command, TyperGroup):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), [*path, name], ctx)

    walk(typer.main.get_command(app), [], None)
    return paths


COMMANDS = _commands()


def _screen(args: list[str], env: dict[str, str | None] | None = None) -> tuple[int, str]:
    """Run ``qet args``; the exit code and what it wrote, boxes removed and lines joined."""
    result = CliRunner().invoke(app, args, env=env)
    text = re.sub(r"[│╭╮╰╯─]", " ", result.output)
    return result.exit_code, " ".join(text.split())


def _found(words: tuple[str, ...], text: str) -> list[str]:
    return [word for word in words if word in text]


def test_every_command_is_walked() -> None:
    names = {" ".join(path) for path in COMMANDS}
    assert {"", "route", "diagnose", "serve", "survey", "survey check", "national run"} <= names
    assert len(COMMANDS) > 15


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "qet")
def test_the_english_help_has_no_french(path: list[str]) -> None:
    code, text = _screen(["--lang", "en", *path, "--help"])
    assert code == 0, text
    assert text.startswith("Usage: qet"), text[:200]
    assert "Show this message and exit." in text
    assert not _found(FRENCH, text), (_found(FRENCH, text), text)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "qet")
def test_the_french_help_has_no_english_framework_words(path: list[str]) -> None:
    code, text = _screen([*path, "--help"], env={"QET_LANG": None})
    assert code == 0, text
    assert text.startswith("Utilisation : qet"), text[:200]
    assert "Affiche cette aide et quitte." in text
    assert not _found(ENGLISH, text), (_found(ENGLISH, text), text)


def test_the_top_help_lists_the_commands_in_the_language() -> None:
    _, french = _screen(["--help"])
    _, english = _screen(["--lang", "en", "--help"])
    assert "Commandes" in french and "Prépare la visite du quartier à pied" in french
    assert "Commands" in english and "Prepares the walking visit" in english
    assert "COMMANDE [ARGS]..." in french and "COMMAND [ARGS]..." in english


@pytest.mark.parametrize(
    "args",
    [
        ["--lang", "en", "route", "--help"],
        ["route", "--help", "--lang", "en"],
        ["route", "--lang=en", "--help"],
        ["--lang", "fr", "route", "--lang", "en", "--help"],
    ],
)
def test_lang_is_honoured_wherever_it_is_written(args: list[str]) -> None:
    code, text = _screen(args)
    assert code == 0
    assert text.startswith("Usage: qet route") and "OSM extract" in text
    assert "[required]" in text and not _found(FRENCH, text)


def test_the_environment_chooses_the_language_and_the_option_wins() -> None:
    _, english = _screen(["route", "--help"], env={"QET_LANG": "en"})
    assert english.startswith("Usage: qet route") and "OSM extract" in english
    _, french = _screen(["--lang", "fr", "route", "--help"], env={"QET_LANG": "en"})
    assert french.startswith("Utilisation : qet route") and "Extrait OSM" in french


def test_an_unknown_language_is_refused_before_the_help() -> None:
    for args in (["--lang", "de", "--help"], ["route", "--lang", "de", "--help"]):
        code, text = _screen(args)
        assert code == 2
        assert "langue inconnue 'de'" in text and "Utilisation" not in text
    # an unknown QET_LANG too, in French (the default)
    code, text = _screen(["serve", "--help"], env={"QET_LANG": "de"})
    assert code == 2 and text == "Erreur : langue inconnue 'de' : utilisez fr ou en."


def test_a_missing_option_in_both_languages() -> None:
    code, french = _screen(["route", "quartier.osm.pbf"], env={"QET_LANG": None})
    assert code == 2
    assert "Option manquante : '--out'." in french
    assert "Utilisation : qet route" in french and "Pour l'aide : qet route --help" in french
    assert not _found(ENGLISH, french), french
    code, english = _screen(["--lang", "en", "route", "quartier.osm.pbf"])
    assert code == 2
    assert "Missing option '--out'." in english and "Try 'qet route --help' for help." in english
    assert "Error" in english and "Erreur" not in english


def test_bad_values_and_commands_in_both_languages() -> None:
    code, french = _screen(["serve", "--port", "0"])
    assert code == 2
    assert "Valeur invalide pour '--port' : une valeur d'au moins 1 est attendue." in french
    _, english = _screen(["--lang", "en", "serve", "--port", "abc"])
    assert "Invalid value for '--port'" in english
    _, french = _screen(["serve", "--port", "abc"])
    assert "Valeur invalide pour '--port' : un nombre entier est attendu." in french
    code, french = _screen(["rout"])
    assert code == 2
    assert "Commande inconnue : 'rout'. Vouliez-vous dire 'route' ?" in french
    _, english = _screen(["--lang", "en", "rout"])
    assert "No such command 'rout'. Did you mean 'route'?" in english
    _, french = _screen(["serve", "--bogus"])
    assert "Option inconnue : --bogus" in french and not _found(ENGLISH, french)


def test_the_same_command_tree_runs_in_one_language_then_the_other(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The French help texts are kept aside when the tree shows English, and come back."""
    command = typer.main.get_command(app)
    outputs = []
    for lang in ("en", "fr", "en"):
        command.main(["--lang", lang, "serve", "--help"], standalone_mode=False)
        outputs.append(" ".join(capsys.readouterr().out.split()))
    assert "Port to listen on." in outputs[0] and "Port to listen on." in outputs[2]
    assert "Port d'écoute." in outputs[1] and "Port to listen on." not in outputs[1]


def test_the_language_is_the_commands_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """After ``qet --lang en ...``, code calling a command's function directly (a test, a
    notebook) is back in French: the English run does not leak into the next one."""
    from qet_geo.cli._common import _state, _t

    monkeypatch.delenv("QET_LANG", raising=False)
    monkeypatch.setitem(_state, "lang", "fr")
    result = CliRunner().invoke(app, ["--lang", "en", "layers", "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    assert _state["lang"] == "fr"
    assert _t("[bold red]Erreur :[/] {message}", message="x").startswith("[bold red]Erreur")
