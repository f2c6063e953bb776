"""The one text convention: French templates in the code, English in the gettext catalogue."""

from __future__ import annotations

import pickle
import re
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from qet_geo.errors import InputFileError, QetGeoWarning, ValidationError
from qet_geo.i18n import AND, CATALOGUE, Msg, _calls, join, msg, number, translate

ROOT = Path(__file__).resolve().parents[1]


def _english() -> dict[str, str]:
    with CATALOGUE.open("rb") as f:
        return {m.id: m.string for m in read_po(f, locale="en") if isinstance(m.id, str) and m.id}


def _fields(template: str) -> set[str]:
    return {
        name.split(".")[0].split("[")[0]
        for _, name, _, _ in string.Formatter().parse(template)
        if name
    }


CALLS = _calls()


def test_every_template_is_a_literal_with_its_fields_given() -> None:
    english = _english()
    bad = []
    for call in CALLS:
        where = f"{call.path}:{call.line}"
        if call.template is None:
            bad.append(f"{where}: the template must be a plain string literal (no f-string)")
            continue
        if call.kind == "help":
            continue  # a help text is shown as it is: its braces are not fields
        missing = (_fields(call.template) | _fields(english.get(call.template, ""))) - call.fields
        if missing:
            bad.append(f"{where}: fields {sorted(missing)} not given")
    assert not bad, "\n".join(bad)


def test_the_catalogue_translates_every_template_and_holds_nothing_stale() -> None:
    used = {call.template for call in CALLS if call.template is not None}
    english = _english()
    untranslated = sorted(t for t in used if not english.get(t))
    stale = sorted(set(english) - used)
    assert not untranslated, f"run `python -m qet_geo.i18n` and translate: {untranslated[:5]}"
    assert not stale, f"run `python -m qet_geo.i18n` to drop: {stale[:5]}"
    assert len(used) > 800


def test_no_other_shape_of_bilingual_text_is_left() -> None:
    """One convention: no French/English pairs written side by side in the code."""
    old = re.compile(
        r"message_fr=|\b\w+_fr\s*=|\bif fr\b|lang == .fr.|\"fr\": \{|_t\(\"[^\"]*\", \""
    )
    allowed = {"api/_workers.py"}  # rebuilds an error sent back, already rendered, by a worker
    found = []
    for folder in ("qet_geo", "api", "maps"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            if rel in allowed:
                continue
            for number_, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if old.search(line):
                    found.append(f"{rel}:{number_}: {line.strip()}")
    assert not found, "\n".join(found)


def test_numbers_and_enumerations_follow_the_language() -> None:
    big = number(1234567)
    assert (big.render("fr"), big.render("en")) == ("1\u202f234\u202f567", "1,234,567")
    assert number(2.25, decimals=1).render("fr") == "2,2"
    listed = join(["a.txt", msg("calendar.txt ou calendar_dates.txt")], AND)
    assert listed.render("fr") == "a.txt et calendar.txt ou calendar_dates.txt"
    assert listed.render("en") == "a.txt and calendar.txt or calendar_dates.txt"
    assert pickle.loads(pickle.dumps(listed)).render("en") == listed.render("en")


def test_templates_render_in_both_languages() -> None:
    text = msg(
        "Le flux GTFS {path} n'est pas une archive zip. {content} ; indiquez le fichier "
        ".zip tel que publié, ou le dossier obtenu en le décompressant.",
        path="f.zip",
        content=msg("Un flux GTFS est un .zip de fichiers .txt"),
    )
    # the English comes from the catalogue when the template is in it, French otherwise
    assert text.render("fr").startswith("Le flux GTFS f.zip")
    assert translate("acceptée", "en") == "accepted" and translate("acceptée", "fr") == "acceptée"
    assert translate("pas dans le catalogue", "en") == "pas dans le catalogue"
    assert isinstance(text, Msg) and text == pickle.loads(pickle.dumps(text))


def test_errors_and_warnings_keep_both_languages_across_processes() -> None:
    err = InputFileError(msg("votre rôle ne permet pas de modifier cet objet."), path="x.zip")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is InputFileError and back.path == "x.zip"
    assert (
        back.localized("fr")
        == err.localized("fr")
        == "votre rôle ne permet pas de modifier cet objet."
    )
    assert str(back) == err.localized("en") == "your role may not change this object."
    # a message already rendered elsewhere (a worker process) keeps its two texts
    sent = ValidationError("bad input", message_fr="entrée invalide")
    assert (sent.localized("en"), sent.localized("fr")) == ("bad input", "entrée invalide")
    warning = QetGeoWarning(msg("rejetée"))
    assert (str(warning), warning.localized("fr")) == ("rejected", "rejetée")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_cli_speaks_the_chosen_language(lang: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from qet_geo.cli.main import app

    res = CliRunner().invoke(
        app, ["--lang", lang, "layers", str(tmp_path / "absent.osm.pbf"), "--out", str(tmp_path)]
    )
    assert res.exit_code == 2
    expected = "introuvable" if lang == "fr" else "not found"
    assert expected in res.output


def _shown_help_texts() -> dict[str, str]:
    """Every help text ``qet --help`` and its subcommands' ``--help`` show, and where."""
    import typer.main
    from typer._click.core import Context
    from typer.core import TyperGroup

    from qet_geo.cli.main import app

    shown: dict[str, str] = {}

    def walk(command: object, path: str, parent: Context | None) -> None:
        ctx = Context(command, info_name=path.split()[-1], parent=parent)  # type: ignore[arg-type]
        for obj in (command, *command.params):  # type: ignore[attr-defined]
            for name in ("help", "short_help", "epilog", "rich_help_panel"):
                text = getattr(obj, name, None)
                if isinstance(text, str) and text.strip():
                    shown[text] = f"{path} ({getattr(obj, 'name', '')}.{name})"
        if isinstance(command, TyperGroup):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), f"{path} {name}", ctx)

    walk(typer.main.get_command(app), "qet", None)
    return shown


def test_every_help_text_of_the_cli_is_in_the_catalogue_with_its_english() -> None:
    """The help of ``qet`` (options' help=, commands' docstrings) is extracted and translated."""
    helps = {call.template for call in CALLS if call.kind == "help"}
    english = _english()
    shown = _shown_help_texts()
    assert len(shown) > 80
    not_extracted = sorted(
        f"{where}: {text!r}" for text, where in shown.items() if text not in helps
    )
    assert not not_extracted, (
        "help texts `python -m qet_geo.i18n` does not extract (write them as a literal help= "
        "or a command's docstring in qet_geo/cli/):\n" + "\n".join(not_extracted)
    )
    untranslated = sorted(
        f"{where}: {text!r}" for text, where in shown.items() if not english.get(text)
    )
    assert not untranslated, "give their English in the catalogue:\n" + "\n".join(untranslated)
    # French in the code, English in the catalogue
    lang = next(text for text, where in shown.items() if where == "qet (lang.help)")
    assert translate(lang, "en") == "Language of the messages: fr (default) or en."


def test_numbers_too_large_or_not_finite_are_written_not_refused() -> None:
    """Babel cannot write the digits of 3.15e46 (the odds ratio of a separated fit): such a
    number is written in scientific notation, a non-finite one as a dash (before: a 500 page)."""
    from qet_geo.i18n import number

    assert number(3.15e46, decimals=2).render("fr") == "3,15E46"
    assert number(3.15e46, decimals=2).render("en") == "3.15E46"
    assert number(float("inf")).render("fr") == "–"
    assert number(float("nan"), decimals=1).render("en") == "–"
    assert number(12345.5, decimals=1).render("en") == "12,345.5"
