"""The ``qet`` command: the assembly of the command modules of :mod:`qet_geo.cli`.

Thin: every command parses its options, calls public library functions and prints. Heavy libraries
are imported inside the commands so that ``qet --help`` starts at once. Errors of the library
(:class:`qet_geo.errors.QetGeoError`) become one line on stderr and exit code 2, never a traceback.
Messages are French by default; ``--lang en`` or ``QET_LANG=en`` switches to English.

The language holds for everything the command writes: its messages (``_t``), the help texts
(the options' ``help=`` and the commands' docstrings, French in the code, English in the
catalogue with the other texts: :func:`qet_geo.i18n._help_texts`) and the words typer (and the
click it vendors) writes itself: "Usage:", the panels' titles, "[required]"
(:func:`qet_geo.cli._common._speak_framework`) and its usage errors, "Missing option",
"Invalid value" (:func:`qet_geo.cli._common._framework_errors`).
:class:`_QetGroup` reads ``--lang`` before click parses the line, so ``qet --lang en --help``,
``qet --lang en route --help`` and ``qet route --help --lang en`` are all in English.
"""

from __future__ import annotations

import functools
import os
import sys
import weakref
from collections.abc import Sequence
from typing import Annotated, Any

import typer
import typer.main
from typer._click.core import Command, Context, Parameter
from typer._click.formatting import HelpFormatter
from typer.core import TyperGroup

from qet_geo.cli._common import (
    _chosen_lang,
    _fail,
    _framework_errors,
    _framework_text,
    _speak_framework,
    _state,
    _t,
)
from qet_geo.cli.admin import admin_app
from qet_geo.cli.diagnose import demo, diagnose
from qet_geo.cli.kit import kit
from qet_geo.cli.links import links
from qet_geo.cli.national import national_app
from qet_geo.cli.neighbourhood import access, isochrone, layers
from qet_geo.cli.perceived import perceived
from qet_geo.cli.profiles import profiles
from qet_geo.cli.route import route
from qet_geo.cli.serve import serve
from qet_geo.cli.store import store_app
from qet_geo.cli.survey import survey_app
from qet_geo.cli.synth import synthesize

#: The French of each help text of the command tree, by the object that shows it.
_FRENCH: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
#: The attributes of typer's commands and parameters that hold a help text.
_HELP_ATTRIBUTES = ("help", "short_help", "epilog", "rich_help_panel")


class _Formatter(HelpFormatter):
    """click's help formatter, with "Usage:" in the command's language."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        if prefix is None:
            prefix = _framework_text("Usage:") + " "
        super().write_usage(prog, args, prefix)


class _Context(Context):
    """click's context, with the formatter above for the help and the usage lines."""

    formatter_class = _Formatter


def _check_lang(value: str | None) -> None:
    """Refuse an unknown language (``--lang`` is read before the line is parsed: ``_QetGroup``)."""
    if value and value not in ("fr", "en"):
        _fail(_t("langue inconnue {lang!r} : utilisez fr ou en.", lang=value))


@functools.cache
def _lang_option() -> Parameter:
    """``--lang`` for every subcommand: accepted, checked, hidden (``qet --help`` shows it)."""
    probe = typer.Typer()

    @probe.command()
    def _probe(
        lang: Annotated[
            str | None,
            typer.Option(
                "--lang", hidden=True, expose_value=False, is_eager=True, callback=_check_lang
            ),
        ] = None,
    ) -> None:
        pass  # pragma: no cover - never run: only its --lang option is used

    return typer.main.get_command(probe).params[0]


def _speak(command: Command, lang: str, parent: Context | None = None) -> None:
    """Show the help texts of ``command`` and of its subcommands in ``lang``.

    Each text is French in the code; its English comes from the catalogue
    (:func:`qet_geo.i18n.translate`). The French is kept aside, so that the same tree can be
    run again in either language. Every subcommand also accepts ``--lang``, so that the language
    is honoured wherever it is written.
    """
    from qet_geo.i18n import translate

    ctx = _Context(command, info_name=command.name, parent=parent)
    command.context_class = _Context
    for obj in (command, *command.params):
        if obj not in _FRENCH:
            _FRENCH[obj] = {name: getattr(obj, name, None) for name in _HELP_ATTRIBUTES}
        for name, text in _FRENCH[obj].items():
            if isinstance(text, str):
                setattr(obj, name, translate(text, lang))
    help_option = command.get_help_option(ctx)
    if help_option is not None:
        help_option.help = _framework_text("Show this message and exit.")
    if parent is not None and not any("--lang" in p.opts for p in command.params):
        command.params.append(_lang_option())
    if isinstance(command, TyperGroup):
        command.subcommand_metavar = "COMMAND [ARGS]..." if lang == "en" else "COMMANDE [ARGS]..."
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                _speak(sub, lang, ctx)


class _QetGroup(TyperGroup):
    """The ``qet`` group: reads the language first, so that its help and errors are in it."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        line = list(sys.argv[1:] if args is None else args)
        before = _state["lang"]
        _state["lang"] = _chosen_lang(line)
        _speak_framework()
        _speak(self, _state["lang"])
        try:
            return super().main(
                line,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=standalone_mode,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        finally:
            # the language is the command's: a caller running commands in turn (tests, a
            # notebook) gets its own back, with typer's own words
            _state["lang"] = before
            _speak_framework()

    def make_context(
        self, info_name: str | None, args: list[str], parent: Context | None = None, **extra: Any
    ) -> Context:
        with _framework_errors():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Context) -> Any:
        with _framework_errors():
            return super().invoke(ctx)


app = typer.Typer(
    name="qet",
    cls=_QetGroup,
    help="qet-geo : analyse géographique des Quartiers en Transitions (couches, contraintes "
    "bâties, profils d'usages).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

survey_app.command("synthesize")(synthesize)
app.command("profiles")(profiles)
app.command("links")(links)
app.command("perceived")(perceived)
app.command("route")(route)
app.add_typer(national_app, name="national")
app.command("serve")(serve)
app.add_typer(store_app, name="store")
app.add_typer(admin_app, name="admin")
app.add_typer(survey_app, name="survey")
app.command("layers")(layers)
app.command("access")(access)
app.command("isochrone")(isochrone)
app.command("diagnose")(diagnose)
app.command("demo")(demo)
app.command("kit")(kit)


@app.callback()
def main(
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            help="Langue des messages : fr (défaut) ou en.",
            show_default=False,
            is_eager=True,
            callback=_check_lang,
        ),
    ] = None,
) -> None:
    """qet-geo : couches, contraintes bâties et profils d'usages des quartiers."""
    # the language is read by _QetGroup.main, before the line is parsed; an unknown QET_LANG
    # is refused here
    _check_lang(lang or os.environ.get("QET_LANG"))


def run() -> None:  # pragma: no cover - console entry point helper
    """Run the CLI (used by ``python -m qet_geo``)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    run()
